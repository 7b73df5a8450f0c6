"""Restart student: can a few-call walk of a distilled network beat the `standard` preset?

A consistency model f(x_t, t) maps a noisy x_t to the end of the teacher's probability-flow
ODE path through it. Its multistep sampler calls f once per level and puts fresh noise on
the result before the next call:

    x0 = f(x_S, S);  for t in levels, noisiest first:  x0 = f(√ᾱ_t·x0 + √(1 − ᾱ_t)·z, t)

Unlike a student of the ODE alone (progressive distillation), this walk adds noise between
calls, which corrects the errors of the earlier calls. The study has four commands:

    ideal     the walk with a perfect student, emulated by the teacher: each call of f is
              the teacher's DPM-Solver++(2M) ODE over every training step from t down to 0
              (about 140 teacher calls for 4 student calls); the target a student can reach
    pairs     teacher ODE paths from the sampler's start noise; each keeps x at the walk's
              levels and its end, so one path gives one (x_t, t) -> x0 pair per level
    train     fine-tune a copy of the teacher on the pairs: its x̂0 at x_t regressed on the
              path's end (waveform MSE relative to the end's power + multi-resolution
              log-magnitude STFT distance); Adam, EMA weights, checkpoints every --save steps,
              a rerun resumes
    judge     the walk with student weights (and the untrained teacher, and `standard`) on
              unconditional 5 s windows: note frames, hiss floor, local flatness
    export    student weights as an export folder: the teacher's model and schedule, meta
              saying what it is (then `python scripts/write_model_card.py <folder>`)

    python -m studies.restart_student ideal --seeds 8
    python -m studies.restart_student pairs --out outputs/restart/pairs --count 300 \
        --worker 0 --workers 2 --threads 1          # and --worker 1 beside it
    python -m studies.restart_student train --pairs outputs/restart/pairs \
        --run outputs/restart/run --steps 2000
    python -m studies.restart_student judge --seeds 8 --teacher --standard \
        --weights outputs/restart/run/ema_2000.safetensors
    python -m studies.restart_student export --weights outputs/restart/run/ema_2000.safetensors \
        --out checkpoints/piano14-ctx/restart_student --steps 2000 --cpu-hours 2.3

Results and their reading: docs/generation.md, "Fewer calls by distillation".
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file, save_file

from pianodiff.checkpoint.export import LoadedModel, export_model, load_export
from pianodiff.core.audio import read_audio
from pianodiff.core.errors import USER_ERRORS
from pianodiff.core.safe_writes import atomic_path
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import SamplingPlan, ddim_plan, ddpm_plan, restart_plan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.solvers.dpmpp_2m import dpmpp_2m
from pianodiff.diffusion.solvers.dpmpp_2m_sde import dpmpp_2m_sde
from pianodiff.generation.students import DISTILLED_FOR
from pianodiff.inpaint.interpolation import Interpolation
from pianodiff.inpaint.replacement import Replacement
from pianodiff.measures.hiss import hiss_floor
from pianodiff.measures.notes import note_measures
from pianodiff.measures.tonality import tonality

BUNDLED = "checkpoints/piano14-ctx"
LEVELS = (19, 28, 36, 49)  # training steps of the walk; the noisiest is where it starts


def student_walk(model: LoadedModel, levels: tuple[int, ...] = LEVELS) -> SamplingPlan:
    """The student's walk over the model's schedule: one call at each training step of
    ``levels`` (the product's ``restart_plan``; ``conf/sampler/restart6`` ships one)."""
    return restart_plan(model.schedule, levels, steps_of=model.schedule.num_steps)


class TeacherRestarts(Replacement):
    """The ideal student's walk on the every-step ODE plan: down to 0, then back up to each
    restart level (consecutive forward steps, exactly one jump of fresh noise) and down again."""

    name = "teacher_restarts"

    def __init__(self, restarts: list[int]):
        self.restarts = restarts

    def walk(self, plan: SamplingPlan) -> list[int]:
        walk = list(range(plan.num_levels, -1, -1))
        for level in self.restarts:
            walk += list(range(1, level + 1)) + list(range(level - 1, -1, -1))
        return walk


def clip(
    denoiser: Denoiser,
    plan: SamplingPlan,
    seed: int,
    length: int,
    inpainter=None,
    keep=(),
    known: torch.Tensor | None = None,
    known_samples: int = 0,
):
    """One window (length,) and the sample at each plan level in ``keep`` as the network saw
    it (after the inpainter's edit of the known region). Unconditional, or with the first
    ``known_samples`` of ``known`` (length,) as the known head of an extension window."""
    kept: dict[int, torch.Tensor] = {}

    def grab(payload: dict) -> None:
        if payload["level"] in keep:
            kept[payload["level"]] = payload["x_t"][0].clone()

    audio, mask = torch.zeros(1, length), torch.zeros(1, length)
    if known is not None and known_samples > 0:
        audio[0, :known_samples] = known[:known_samples]
        mask[0, :known_samples] = 1.0
    ctx = InpaintContext(audio, mask, plan, torch.Generator().manual_seed(seed), True, None)
    x = sample(denoiser, inpainter or Replacement(), ctx, callback=grab if keep else None)
    return x[0], kept


def known_head(folder: Path, seed: int, length: int, sr: int) -> torch.Tensor:
    """A (length,) crop of a recording in ``folder``, chosen by ``seed``."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    if not files:
        raise SystemExit(f"no .wav or .flac files in {folder}")
    rng = random.Random(seed)
    audio = read_audio(rng.choice(files), sr)
    start = rng.randrange(0, max(1, len(audio) - length))
    return audio[start : start + length]


def measured(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    notes = [r[0] for r in rows]
    return {
        "note_frames": statistics.mean(notes),
        "note_frames_min": min(notes),
        "note_frames_max": max(notes),
        "hiss_db": statistics.median(r[1] for r in rows),
        "flatness": statistics.mean(r[2] for r in rows),
    }


def judge_rows(denoiser, plan, seeds, first_seed, length, sr, inpainter=None):
    rows = []
    for seed in range(first_seed, first_seed + seeds):
        x, _ = clip(denoiser, plan, seed, length, inpainter)
        rows.append((note_measures(x, sr).note_frames, hiss_floor(x, sr), tonality(x, sr)))
    return measured(rows)


def report(label: str, calls: float, m: dict[str, float], seconds: float) -> None:
    print(
        f"| {label} | {calls:g} | {m['note_frames']:.2f} ({m['note_frames_min']:.2f}–"
        f"{m['note_frames_max']:.2f}) | {m['hiss_db']:.1f} dB | {m['flatness']:.3f} | "
        f"{seconds:.0f} s |",
        flush=True,
    )


def teacher(args) -> tuple[LoadedModel, Denoiser]:
    torch.set_num_threads(args.threads)
    model = load_export(args.checkpoint)
    return model, Denoiser(model.net, torch.bfloat16 if args.bf16 else None)


def cmd_ideal(args) -> None:
    model, denoiser = teacher(args)
    plan = ddpm_plan(model.schedule, solver=dpmpp_2m)  # plan level s = training step s − 1
    levels = sorted(args.levels, reverse=True)
    restarts = [s + 1 for s in levels[1:]]
    length = int(args.seconds * model.sample_rate)
    start = time.perf_counter()
    m = judge_rows(
        denoiser,
        plan,
        args.seeds,
        args.first_seed,
        length,
        model.sample_rate,
        TeacherRestarts(restarts),
    )
    report(f"ideal restart student {levels}", len(levels), m, time.perf_counter() - start)


def cmd_pairs(args) -> None:
    model, denoiser = teacher(args)
    plan = ddpm_plan(model.schedule, solver=dpmpp_2m)
    keep = {s + 1: s for s in args.levels}  # plan level -> training step
    sr = model.sample_rate
    length = int(args.seconds * sr)
    context = int(args.context_seconds * sr) if args.prompts else 0
    inpainter = Interpolation() if context else None  # the default extender's edit
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        seed = args.first_seed + args.worker + args.workers * i
        path = out / f"traj_{seed}.pt"
        if path.exists():
            continue
        start = time.perf_counter()
        known = known_head(Path(args.prompts), seed, length, sr) if context else None
        x0, kept = clip(denoiser, plan, seed, length, inpainter, tuple(keep), known, context)
        path_data = {
            "x0": x0,
            "x": {keep[lv]: x for lv, x in kept.items()},
            "seed": seed,
            "known_samples": context,
        }
        with atomic_path(path) as tmp:
            torch.save(path_data, tmp)
        print(f"{path.name} {time.perf_counter() - start:.1f} s", flush=True)


class Pairs:
    """Aligned random crops of (x_t, t, path end) from the pair files of one or more folders
    (re-listed per draw, so files written while training runs join in)."""

    def __init__(self, folders: list[str], crop: int, seed: int):
        self.folders, self.crop = [Path(f) for f in folders], crop
        self.rng = random.Random(seed)
        self.cache: dict[Path, dict] = {}

    def _load(self, path: Path) -> dict:
        if path not in self.cache:
            self.cache[path] = torch.load(path)
        return self.cache[path]

    def draw(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x_t (B, crop), the path ends (B, crop), steps (B,)."""
        files = sorted(f for folder in self.folders for f in folder.glob("traj_*.pt"))
        if not files:
            where = ", ".join(map(str, self.folders))
            raise SystemExit(f"no traj_*.pt in {where}; make them with the pairs command")
        xs, ends, steps = [], [], []
        for _ in range(batch):
            path = self._load(self.rng.choice(files))
            step = self.rng.choice(sorted(path["x"]))
            end = path["x0"]
            crop = min(self.crop, len(end))
            s = self.rng.randrange(0, len(end) - crop + 1)
            xs.append(path["x"][step][s : s + crop])
            ends.append(end[s : s + crop])
            steps.append(step)
        return torch.stack(xs), torch.stack(ends), torch.tensor(steps)


def logmag_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean |log(|STFT a| + 1e-4) − log(|STFT b| + 1e-4)| over 512/1024/2048-point frames;
    (B, T), (B, T) -> (B,). The log scale weighs the quiet background, where hiss lives."""
    total = torch.zeros(a.shape[0])
    for n in (512, 1024, 2048):
        window = torch.hann_window(n)
        mag_a = torch.stft(a, n, n // 4, window=window, return_complex=True).abs()
        mag_b = torch.stft(b, n, n // 4, window=window, return_complex=True).abs()
        total = total + (torch.log(mag_a + 1e-4) - torch.log(mag_b + 1e-4)).abs().mean(dim=(1, 2))
    return total / 3


def cmd_train(args) -> None:
    torch.set_num_threads(args.threads)
    model = load_export(args.checkpoint)
    net = model.net.train().requires_grad_(True)
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    alpha_bar = model.schedule.alpha_bar.float()
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    state_path, step = run / "state.pt", 0
    if state_path.exists():
        state = torch.load(state_path)
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        print(f"resumed at step {step}", flush=True)
    pairs = Pairs(args.pairs, int(args.crop_seconds * model.sample_rate), seed=args.seed + step)
    totals: dict[int, list[float]] = {}
    start = time.perf_counter()
    while step < args.steps:
        x, end, steps = pairs.draw(args.batch)
        ab = alpha_bar[steps].unsqueeze(1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            eps = net(x, steps.float())
        x0 = (x - (1 - ab).sqrt() * eps.float()) / ab.sqrt()
        mse = ((x0 - end) ** 2).mean(dim=1) / (end.pow(2).mean(dim=1) + 1e-4)
        spectral = logmag_distance(x0, end)
        loss = (mse + args.spectral_weight * spectral).mean()
        for group in opt.param_groups:  # linear warm-up
            group["lr"] = args.lr * min(1.0, (step + 1) / args.warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), net.parameters()):
                p_ema.lerp_(p, 1 - args.ema)
        step += 1
        for i, s in enumerate(steps.tolist()):
            t = totals.setdefault(s, [0.0, 0.0, 0])
            t[0] += float(mse[i].detach())
            t[1] += float(spectral[i].detach())
            t[2] += 1
        if step % args.log_every == 0:
            parts = [
                f"t{s}: mse {t[0] / t[2]:.4f} logmag {t[1] / t[2]:.3f}"
                for s, t in sorted(totals.items())
            ]
            print(
                f"step {step} {time.perf_counter() - start:.0f} s  " + "  ".join(parts), flush=True
            )
            totals = {}
        if step % args.save == 0 or step == args.steps:
            state = {
                "net": net.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
            }
            with atomic_path(state_path) as tmp:
                torch.save(state, tmp)
            with atomic_path(run / f"ema_{step}.safetensors") as tmp:
                save_file({k: v.contiguous() for k, v in ema.state_dict().items()}, str(tmp))


def cmd_judge(args) -> None:
    model, denoiser = teacher(args)
    own = {k: v.clone() for k, v in model.net.state_dict().items()}
    length, sr = int(args.seconds * model.sample_rate), model.sample_rate
    walk = student_walk(model, tuple(args.levels))
    print("| what | calls | note frames (min–max) | hiss floor | local flatness | wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    runs: list[tuple[str, SamplingPlan, dict | None]] = []
    if args.standard:
        runs.append(
            (
                "standard (teacher, dpmpp_2m_sde 10)",
                ddim_plan(model.schedule, 10, eta=1.0, solver=dpmpp_2m_sde),
                None,
            )
        )
    if args.teacher:
        runs.append((f"teacher, {walk.name}", walk, None))
    runs += [(f"{w}, {walk.name}", walk, load_file(w)) for w in args.weights]
    for label, plan, weights in runs:
        model.net.load_state_dict(own if weights is None else weights)
        start = time.perf_counter()
        m = judge_rows(denoiser, plan, args.seeds, args.first_seed, length, sr)
        report(label, plan.num_levels, m, time.perf_counter() - start)


def cmd_export(args) -> None:
    model = load_export(args.checkpoint)
    config = OmegaConf.to_container(model.config, resolve=True)
    levels = ", ".join(map(str, sorted(args.levels)))
    meta = {
        "sample_rate": model.sample_rate,
        "distilled_for": DISTILLED_FOR,  # the restart walks run it (generation/students.py)
        "steps": args.steps,
        "teacher": str(args.checkpoint),
        "recipe": (
            f"python -m studies.restart_student train (from {args.checkpoint}, "
            f"{args.steps} steps, pairs at training steps {levels})"
        ),
        "data": "teacher ODE paths from noise (no audio data)",
        "hardware": args.hardware,
        "precision": "bf16-mixed",
        "notes": (
            f"A restart student of {args.checkpoint}: fine-tuned about {args.cpu_hours} "
            "CPU-hours, pair making included, so that one call maps x_t to the end of the "
            "teacher's ODE path through it. Its teacher's restart walks (sampler=restart4, the "
            "draft preset, and restart6) run it; the other samplers run on it but are not what "
            "it was made for (docs/generation.md, Fewer calls by distillation)."
        ),
    }
    weights = load_file(args.weights)
    export_model(args.out, weights, config["model"], config["diffusion"], meta)
    print(f"wrote {args.out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m studies.restart_student", description=__doc__.split("\n")[0]
    )
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--checkpoint", default=BUNDLED, help="the teacher's export folder")
    common.add_argument(
        "--levels",
        type=lambda s: tuple(int(v) for v in s.split(",")),
        default=LEVELS,
        help="training steps of the walk (default 19,28,36,49)",
    )
    common.add_argument("--threads", type=int, default=2)
    common.add_argument("--fp32", dest="bf16", action="store_false", help="no bf16 autocast")
    common.add_argument("--seconds", type=float, default=5.0, help="window length")
    for name, text in (
        ("ideal", "the walk with a perfect student (the teacher's ODE)"),
        ("judge", "the walk with student weights, beside standard"),
    ):
        s = sub.add_parser(name, parents=[common], help=text)
        s.add_argument("--seeds", type=int, default=8)
        s.add_argument("--first-seed", type=int, default=1000)
        if name == "judge":
            s.add_argument("--weights", nargs="*", default=[], help="student .safetensors")
            s.add_argument("--teacher", action="store_true", help="also the untrained walk")
            s.add_argument("--standard", action="store_true", help="also the standard preset")
    s = sub.add_parser("pairs", parents=[common], help="teacher ODE paths for training")
    s.add_argument("--out", required=True)
    s.add_argument("--count", type=int, default=100, help="paths of this worker")
    s.add_argument("--worker", type=int, default=0)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--first-seed", type=int, default=100000)
    s.add_argument(
        "--prompts",
        help="folder of recordings: each path continues a crop of one (the known head of an "
        "extension window, the default interpolation extender's edit); none: unconditional",
    )
    s.add_argument("--context-seconds", type=float, default=1.0, help="known head with --prompts")
    s = sub.add_parser("export", parents=[common], help="student weights as an export folder")
    s.add_argument("--weights", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--steps", type=int, required=True, help="training steps of the weights")
    s.add_argument("--cpu-hours", type=float, required=True, help="what making it cost")
    s.add_argument("--hardware", default="cpu: AMD EPYC, 2 cores (avx512_bf16)")
    s = sub.add_parser("train", parents=[common], help="fine-tune a student on the pairs")
    s.add_argument("--pairs", required=True, nargs="+", help="folders of pair files")
    s.add_argument("--run", required=True)
    s.add_argument("--steps", type=int, default=2000)
    s.add_argument("--batch", type=int, default=4)
    s.add_argument("--crop-seconds", type=float, default=2.5)
    s.add_argument("--lr", type=float, default=5e-5)
    s.add_argument("--warmup", type=int, default=100)
    s.add_argument("--ema", type=float, default=0.998)
    s.add_argument("--spectral-weight", type=float, default=1.0)
    s.add_argument("--save", type=int, default=200)
    s.add_argument("--log-every", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "offline")
    commands = {"ideal": cmd_ideal, "pairs": cmd_pairs, "train": cmd_train, "judge": cmd_judge}
    try:
        {**commands, "export": cmd_export}[args.command](args)
    except USER_ERRORS as err:  # a missing or hostile export, an export already there, ...
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
