"""The body of ``python -m pianodiff.evaluate``: measure a checkpoint's extenders and samplers.

Over held-out real audio it fills centred gaps (LSD, SNR), continues the audio from cuts
with the generation engine (seam score against the natural distribution, chroma
continuity against the real continuation, change of the known region, tonality, onset
rate and transcribed notes, cost), compares the same-seed continuations of different
prompts (prompt influence), samples unconditional base windows, continues passages rendered
in four keys to judge whether the key is followed (``key_following``, with optional harmony
guidance), and writes
``results.csv``, ``summary.md`` and PNG plots to the run directory and to W&B (offline by
default). Definitions: docs/evaluation.md. The entrypoint itself is ``pianodiff/evaluate.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pianodiff.api import Generator
from pianodiff.evaluation.cases import extension_cases, gap_cases, load_held_out
from pianodiff.evaluation.equal_cost import check_budget, plan_within_cost
from pianodiff.evaluation.key_following import key_cases, key_table, run_key_following
from pianodiff.evaluation.key_set import ensure_key_set
from pianodiff.evaluation.models import EvaluationError, load_model
from pianodiff.evaluation.report import markdown_table, plot, summarise, write_csv
from pianodiff.evaluation.run_cases import (
    Setup,
    run_extension_case,
    run_gap_case,
    run_influence,
    run_unconditional_case,
)
from pianodiff.generation.configs import build_extender, build_plan
from pianodiff.generation.device import pick_device
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.values import check_flag
from pianodiff.inpaint.harmony import Harmony, HarmonyError
from pianodiff.measures.natural import natural_seam_distribution
from pianodiff.measures.notes import announce_if_off
from pianodiff.tracking.evaluate_run import log_to_wandb


def _names(value) -> list[str]:
    """A list option of names; one bare name (``extenders=repaint``) counts as a list of one."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _harmony(cfg: DictConfig) -> Harmony | None:
    """Harmony guidance of every continuation, key-following included (None when off)."""
    node = cfg.get("harmony") or {}
    try:
        harmony = Harmony(**OmegaConf.to_container(node, resolve=True))
    except (HarmonyError, TypeError) as err:
        raise EvaluationError(str(err)) from err
    return harmony if harmony.active else None


def _profile_settings(cfg: DictConfig) -> dict:
    """The ``pitch_profile`` settings of key-following continuations (as generate's)."""
    node = cfg.get("pitch_profile")
    return {} if node is None else dict(OmegaConf.to_container(node, resolve=True))


def _key_cases(keyed: DictConfig, sample_rate: int):
    """The key-following prompts: the held-out pieces rendered in every key (once)."""
    shifts = [int(s) for s in keyed.shifts]
    files = ensure_key_set(keyed.data_dir, shifts, soundfont=keyed.soundfont)
    use = None if keyed.use_passages is None else [int(i) for i in keyed.use_passages]
    return key_cases(
        files, keyed.prompt_seconds, keyed.seconds, keyed.passages_per_file, use, sample_rate
    )


def evaluate(cfg: DictConfig, run_dir: Path) -> tuple[list[dict], str]:
    """Run every case for every (extender, sampler); write outputs to ``run_dir``."""
    flags = ("bf16", "compile", "gap.enabled", "extension.enabled", "wandb.enabled")
    for name in (*flags, "key_following.enabled"):
        check_flag(name, OmegaConf.select(cfg, name))  # "no" must not read as true
    harmony = _harmony(cfg)
    budget = check_budget(cfg.equal_cost)
    device = pick_device(cfg.device)
    model = load_model(cfg.checkpoint, device, cfg.seed)
    runner = Generator(model, device, bf16=cfg.bf16, compile=cfg.compile)
    sr = model.sample_rate
    audio = load_held_out(cfg.data_dir, cfg.files, sr)
    gaps = gap_cases(audio, list(cfg.gap.gaps_ms), cfg.gap.case_seconds, cfg.cases_per_file, sr)
    ext = cfg.extension
    extensions = extension_cases(audio, ext.ground_seconds, ext.seconds, cfg.cases_per_file, sr)
    gaps = gaps if cfg.gap.enabled else []
    extensions = extensions if ext.enabled else []
    uncond = cfg.unconditional
    seeds = [int(s) for s in uncond.seeds] if uncond.enabled else []
    keyed = cfg.key_following
    keys = _key_cases(keyed, sr) if keyed.enabled else []
    if not gaps and not extensions and not seeds and not keys:
        raise EvaluationError(
            f"no evaluation case fits the audio in {cfg.data_dir}; use longer files or "
            "lower gap.case_seconds / extension.ground_seconds / extension.seconds"
        )
    # A continuation's output is the whole real excerpt before the cut plus the new audio
    # (as generate writes it); natural cuts are scored on excerpts of the same length.
    excerpt_s = ext.ground_seconds + ext.seconds
    natural = natural_seam_distribution(
        [w for _, w in audio],
        cfg.natural.cuts_per_file,
        excerpt_s,
        torch.Generator().manual_seed(cfg.seed),
        sr,
    )
    ext_params = OmegaConf.to_container(cfg.extender_params, resolve=True)
    smp_params = OmegaConf.to_container(cfg.sampler_params, resolve=True)
    setups = []
    for e in _names(cfg.extenders):
        for s in _names(cfg.samplers):
            inpainter = build_extender(e, **ext_params.get(e, {}))
            if budget is None:
                plan, label = build_plan(s, model.schedule, **smp_params.get(s, {})), s
            else:  # each extender walks the longest plan the shared budget buys
                plan = plan_within_cost(
                    inpainter, s, model.schedule, budget, **smp_params.get(s, {})
                )
                label = plan.name
            setups.append(Setup(runner, inpainter, plan, e, label, cfg.seed, str(device), sr))
    announce_if_off()  # without the optional extra: one line, and no note columns
    rows: list[dict] = []
    samplers_done: set[str] = set()
    labels = {setup.sampler for setup in setups}
    total = len(setups) * (len(gaps) + len(extensions) + len(keys)) + len(labels) * len(seeds)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True)) as progress:
        bar = progress.add_task("evaluating", total=total)
        for setup in setups:
            name = f"{setup.extender}/{setup.sampler}"
            if setup.sampler not in samplers_done:  # the base window has no extender
                samplers_done.add(setup.sampler)
                for seed in seeds:
                    progress.update(bar, description=f"unconditional/{setup.sampler} seed {seed}")
                    rows.append(run_unconditional_case(setup, seed, uncond.seconds))
                    progress.advance(bar)
            for case in gaps:
                progress.update(bar, description=f"{name} gap {case.gap_ms} ms")
                rows.append(run_gap_case(setup, case))
                progress.advance(bar)
            continuations = []
            for case in extensions:
                progress.update(bar, description=f"{name} continuation")
                case_rows, new = run_extension_case(
                    setup,
                    case,
                    dict(ext.geometry),
                    natural,
                    ext.candidates,
                    cfg.continuity_seconds,
                    harmony,
                )
                rows += case_rows
                continuations.append(new)
                progress.advance(bar)
            if cfg.influence.enabled:
                edges = [float(e) for e in cfg.influence.edges_s]
                rows += run_influence(setup, extensions, continuations, edges)
            if keys:
                progress.update(bar, description=f"{name} key-following")
                rows += run_key_following(
                    setup,
                    keys,
                    keyed.seconds,
                    Geometry(**keyed.geometry),
                    harmony,
                    on_case=lambda: progress.advance(bar),
                    profile=_profile_settings(cfg),
                )
    summary = summarise(rows)
    title = (
        f"Evaluation of {cfg.checkpoint or model.path} on {len(audio)} file(s) of "
        f"{cfg.data_dir} ({cfg.cases_per_file} case(s) per file, seed {cfg.seed})"
        + (f", every extender at ≤ {budget:g} forward passes per window" if budget else "")
        + "\n"
    )
    table = markdown_table(summary, natural, title) + key_table(rows)
    write_csv(rows, run_dir / "results.csv")
    (run_dir / "summary.md").write_text(table)
    torch.save(natural, run_dir / "natural_seam_scores.pt")
    images = plot(rows, natural, run_dir)
    if cfg.wandb.enabled:
        log_to_wandb(
            rows,
            summary,
            images,
            run_dir,
            cfg.wandb.project,
            cfg.wandb.mode,
            OmegaConf.to_container(cfg, resolve=True),
        )
    return rows, table
