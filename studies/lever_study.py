"""Rank training levers of ``experiment=piano14_cpu`` by what they buy per CPU-hour.

    python -m studies.lever_study launch --init <run>/checkpoints/last.ckpt --minutes 50
    python -m studies.lever_study report --study outputs/lever_study/<id> --out studies/img

``launch`` starts one training run per lever, all at once and one thread each, so every
lever gets the same share of the same cores for the same wall time (the fair "per
CPU-hour" comparison on a shared machine). Each run warm-starts (``init_from=``) from the
same weights with a fresh optimiser, so the study measures which change moves a model
that has reached the Wiener plateau, not which one reaches the plateau first.

``report`` scores every run's final weights (raw and EMA) on the same held-out crops and
noise draws: L1 on ε beside the Wiener filter per quarter of the schedule (ratio < 1 means
beyond the average spectrum), and the tonality, onset rate and (with the notes extra) the
transcribed note frames and notes per second of unconditional samples.
It writes ``lever_study.csv``, ``lever_study.md`` and ``lever_study.png`` (loss curves).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY  # noqa: E402
from pianodiff.checkpoint.export import (  # noqa: E402
    CheckpointError,
    build_network,
    build_schedule,
    load_export,
)
from pianodiff.checkpoint.from_training import load_training_checkpoint  # noqa: E402
from pianodiff.checkpoint.warm_start import initial_weights  # noqa: E402
from pianodiff.core.audio import read_audio  # noqa: E402
from pianodiff.data.dataset import find_audio_files  # noqa: E402
from pianodiff.evaluation.reference_loss import average_power_spectrum  # noqa: E402
from pianodiff.generation.configs import build_plan  # noqa: E402
from pianodiff.measures.listening import sample_measures  # noqa: E402
from studies.training_probe import (  # noqa: E402
    held_out_crops,
    losses_by_noise_level,
    mean_measures,
    unconditional,
)

# lever name -> overrides of experiment=piano14_cpu (each run also gets the common ones)
LEVERS: dict[str, list[str]] = {
    "continue (lr 1e-3)": [],
    "lr 3e-4": ["module.optimizer.lr=3e-4"],
    "lr 3e-3": ["module.optimizer.lr=3e-3"],
    "min-SNR weighting (γ=500)": ["module.loss_weight=min_snr", "module.min_snr_gamma=500"],
    "crops 0.25 s × 16": ["data.segment_seconds=0.25", "data.batch_size=16"],
}
COMMON = [
    "experiment=piano14_cpu",
    "logger=csv",
    "num_threads=1",
    "module.scheduler.warmup_steps=50",
    "trainer.val_check_interval=100",
    "callbacks.demo_sampling=null",
    "callbacks.history_panel=null",
]


def slug(name: str) -> str:
    keep = [c if c.isascii() and c.isalnum() else "_" for c in name.lower()]
    return "_".join(filter(None, "".join(keep).split("_")))


def launch(args: argparse.Namespace) -> None:
    initial_weights(Path(args.init))  # a missing, unsafe or foreign start: one line, no runs
    study = Path(args.study or Path(args.root) / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    study.mkdir(parents=True, exist_ok=True)
    index = study / "study.json"
    previous = json.loads(index.read_text())["runs"] if index.exists() else {}
    levers = {k: v for k, v in LEVERS.items() if not args.only or slug(k) in args.only}
    minutes = int(args.minutes)
    runs = {}
    for name, overrides in levers.items():
        run_dir = study / slug(name)
        cmd = [
            sys.executable,
            "-m",
            "pianodiff.train",
            *COMMON,
            f"init_from={Path(args.init).absolute()}",
            f"name=lever_{slug(name)}",
            f"paths.run_dir={run_dir.absolute()}",
            f"+trainer.max_time=00:{minutes // 60:02d}:{minutes % 60:02d}:00",
            *overrides,
        ]
        run_dir.mkdir()
        with open(run_dir / "train.log", "w") as log:  # the child keeps its own copy
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        runs[name] = {"dir": str(run_dir), "overrides": overrides, "command": cmd}
    meta = {"init": str(args.init), "minutes": minutes, "started": dt.datetime.now().isoformat()}
    index.write_text(json.dumps({"meta": meta, "runs": {**previous, **runs}}, indent=1))
    print(study)


def load_nets(source: Path) -> dict[str, torch.nn.Module]:
    """{"raw": …, "ema": …} networks of a .ckpt (or {"ema": …} of an export folder)."""
    raw_state, ema_state, model_config = initial_weights(source)
    nets = {}
    for kind, state in (("raw", raw_state), ("ema", ema_state)):
        net = build_network(model_config, str(source))  # allow-listed targets only
        net.load_state_dict(state)
        nets[kind] = net.eval().requires_grad_(False)
    return nets


def run_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of the run's CSV log (csv/metrics.csv), values as floats."""
    path = run_dir / "csv" / "metrics.csv"
    if not path.exists():
        return []
    with open(path) as f:
        return [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(f)
        ]


def steps_and_pace(ckpt_path: Path, command: list[str] | None) -> tuple[int, float]:
    """(global step of the checkpoint, wall seconds per step over the run's max_time)."""
    ckpt = load_training_checkpoint(ckpt_path)  # weights only: runs no code from the file
    step = int(ckpt["global_step"])
    limits = [a.split("=", 1)[1] for a in command or [] if a.startswith("+trainer.max_time=")]
    if not limits:
        return step, float("nan")
    d, h, m, sec = (int(x) for x in limits[0].split(":"))
    return step, (((d * 24 + h) * 60 + m) * 60 + sec) / max(step, 1)


def score(nets: dict, crops, schedule, spectrum, plan, seconds: float) -> dict[str, float]:
    row: dict[str, float] = {}
    for kind, net in nets.items():
        losses = losses_by_noise_level(crops, schedule, spectrum, net)
        row.update({f"{kind}_{k}": v for k, v in losses.items() if not k.startswith("wiener")})
        row.update({k: v for k, v in losses.items() if k.startswith("wiener")})
    samples = [unconditional(nets["ema"], plan, seconds, seed) for seed in (0, 1)]
    row.update(mean_measures([sample_measures(audio) for audio in samples]))
    return row


def report(args: argparse.Namespace) -> None:
    study = Path(args.study)
    index = json.loads((study / "study.json").read_text())
    crops = held_out_crops(Path(args.data) / "eval", count=args.crops, seconds=0.5)
    spectrum = average_power_spectrum(
        read_audio(f) for f in find_audio_files(Path(args.data) / "train")
    )
    init = Path(index["meta"]["init"])
    schedule = (
        build_schedule(load_training_checkpoint(init)[CONFIG_KEY]["diffusion"], str(init))
        if init.is_file()
        else load_export(init).schedule
    )
    plan = build_plan("ddim", schedule)
    rows = []
    start = score(load_nets(init), crops, schedule, spectrum, plan, args.seconds)
    rows.append(
        {"lever": "start (warm-start weights)", "steps": 0, "s_per_step": float("nan"), **start}
    )
    print(rows[-1], flush=True)
    # (label, checkpoint, launch command): the study's runs, then any --extra checkpoints.
    entries = []
    for name, run in ({} if args.skip_runs else index["runs"]).items():
        ckpt = Path(run["dir"]) / "checkpoints" / "last.ckpt"
        if not ckpt.exists():
            print(f"{name}: no last.ckpt yet, skipped", flush=True)
            continue
        entries.append((name, ckpt, run.get("command")))
    for item in args.extra or []:
        label, _, ckpt = item.partition("=")
        entries.append((label, Path(ckpt), None))
    for label, ckpt, command in entries:
        steps, pace = steps_and_pace(ckpt, command)
        row = {"lever": label, "steps": steps, "s_per_step": pace}
        row.update(score(load_nets(ckpt), crops, schedule, spectrum, plan, args.seconds))
        rows.append(row)
        print(row, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "lever_study_extra" if args.skip_runs else "lever_study"
    write_tables(rows, study / f"{name}.csv", study / f"{name}.md")
    if not args.skip_runs:
        plot_curves(index["runs"], out / "lever_study.png")
    print((study / f"{name}.md").read_text())


def write_tables(rows: list[dict], csv_path: Path, md_path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    quarters = sorted(k[len("ema_ratio_") :] for k in rows[0] if k.startswith("ema_ratio_t"))
    notes_on = all("note_frames" in r for r in rows)  # the transcriber (notes extra) ran
    head = [
        "lever",
        "steps",
        "wall s/step",
        "EMA model/Wiener",
        *[f"EMA {q}" for q in quarters],
        "raw model/Wiener",
        "tonality",
        "onsets/s",
        *(["note frames", "notes/s"] if notes_on else []),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["lever"],
            str(r["steps"]),
            f"{r['s_per_step']:.1f}",
            f"{r['ema_ratio']:.4f}",
            *[f"{r['ema_ratio_' + q]:.3f}" for q in quarters],
            f"{r['raw_ratio']:.4f}",
            f"{r['tonality']:.3f}",
            f"{r['onset_rate']:.1f}",
            *([f"{r['note_frames']:.3f}", f"{r['notes_per_s']:.1f}"] if notes_on else []),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    md_path.write_text("\n".join(lines) + "\n")


def plot_curves(runs: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), dpi=90)
    for name, run in runs.items():
        rows = run_metrics(Path(run["dir"]))
        train = [(r["step"], r["train/loss"]) for r in rows if "train/loss" in r]
        val = [
            (r["step"], r["val/ref_model"] / r["val/ref_wiener"])
            for r in rows
            if "val/ref_model" in r and "val/ref_wiener" in r
        ]
        if train:
            xs, ys = zip(*train)
            k = max(1, len(ys) // 20)
            smooth = [
                sum(ys[max(0, i - k) : i + 1]) / len(ys[max(0, i - k) : i + 1])
                for i in range(len(ys))
            ]
            axes[0].plot(xs, smooth, label=name, lw=1.2)
        if val:
            xs, ys = zip(*val)
            axes[1].plot(xs, ys, "o-", label=name, lw=1.2, ms=3)
    axes[0].set_title("train L1 on ε (running mean)", fontsize=9)
    axes[1].set_title("held-out EMA model / Wiener (val/ref_*)", fontsize=9)
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    for ax in axes:
        ax.set_xlabel("steps after the warm start")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("launch", help="start one warm-started run per lever (background)")
    p.add_argument("--init", required=True, help=".ckpt or export folder all runs start from")
    p.add_argument("--minutes", type=int, default=50, help="wall time of every run")
    p.add_argument("--root", default="outputs/lever_study")
    p.add_argument("--study", help="add the runs to this existing study folder")
    p.add_argument("--only", nargs="*", help="lever slugs to run (default: all)")
    p.set_defaults(func=launch)
    r = sub.add_parser("report", help="score every run of a study; table, CSV and curves")
    r.add_argument("--study", required=True)
    r.add_argument("--data", default="data/piano14")
    r.add_argument("--out", default="studies/img")
    r.add_argument("--crops", type=int, default=32, help="held-out 0.5 s crops (× 4 draws)")
    r.add_argument("--seconds", type=float, default=3.0, help="length of the 2 samples")
    r.add_argument(
        "--extra",
        nargs="*",
        help="label=file.ckpt: also score these checkpoints (same schedule) in the table",
    )
    r.add_argument("--skip-runs", action="store_true", help="score only the start and --extra")
    r.set_defaults(func=report)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CheckpointError as err:  # unsafe, corrupt or foreign: one line, nothing run
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
