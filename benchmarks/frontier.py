"""The sampler frontier of a checkpoint: quality against network calls, many seeds.

    python -m benchmarks.frontier [--seeds 8] [--steps 5,10,20,30,50] [--out frontier-results]
    python -m benchmarks.frontier --samplers ddim,dpmpp_2m_sde --bf16   # a subset, in bf16
    python -m benchmarks.frontier --plot-only --out frontier-results      # redraw
    python -m benchmarks.frontier --from-rows a/rows.csv b/rows.csv --out merged  # merge
    python -m benchmarks.frontier --families "dpmpp_2m_sde η=1 ρ=0.6 lof" --steps 6 \
        --set rho=0.5 --set lower_order_final=false      # a family with other settings

Every shipped sampler family (``evaluation.frontier.default_families``) over ``--steps``,
each point on ``--seeds`` unconditional clips of a 5 s base window plus ``--seconds`` of
extension (10 s by default), judged by note frames, hiss floor, local flatness and seam
score (docs/generation.md). Hours on two CPU cores: the run writes ``rows.csv`` after every
clip and resumes from it, so stop and restart it at will. Timing-insensitive (the wall
seconds are recorded, but ``benchmarks.presets`` is where speed is measured), so it can run
under ``nice`` beside other work. Needs the note measure (``make notes``).

Writes ``rows.csv`` (one row per clip), ``summary.md`` and ``frontier.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pianodiff.core.safe_writes import atomic_path

PRESET_NAMES = ("draft", "standard", "best")


def read_rows(path: Path) -> list[dict]:
    """The rows of an earlier (or interrupted) run; [] when there is none."""
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(rows: list[dict], path: Path) -> None:
    """All rows to ``path`` atomically (a kill mid-write keeps the previous file)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def merge_rows(tables: Sequence[Sequence[dict]]) -> list[dict]:
    """The rows of several runs as one: a clip (point, seed, precision) measured in more
    than one keeps its first row, so the order of ``tables`` says which run wins."""
    from pianodiff.evaluation.frontier import completed

    merged: list[dict] = []
    seen: set[tuple[str, int, bool]] = set()
    for table in tables:
        for row in table:
            key = next(iter(completed([row])))
            if key not in seen:
                seen.add(key)
                merged.append(row)
    return merged


def preset_points(rows: list[dict]) -> dict[str, str]:
    """Frontier point label -> preset name, for each preset whose sampler, as shipped, is
    one of the points in ``rows``."""
    from omegaconf import OmegaConf

    from pianodiff.evaluation.frontier import default_families, points
    from pianodiff.generation.configs import load_group_config
    from pianodiff.generation.presets import resolve_preset

    steps = sorted({int(float(r["steps"])) for r in rows})
    labels = {str(r["point"]) for r in rows}
    grid = [p for p in points(default_families(steps)) if p.label in labels]
    marks = {}
    for name in PRESET_NAMES:
        try:
            shipped = OmegaConf.to_container(resolve_preset(name).sampler_config())
        except Exception:  # a preset not shipped (yet) is simply not marked
            continue
        for p in grid:
            if (
                OmegaConf.to_container(load_group_config("sampler", p.sampler, **p.params))
                == shipped
            ):
                marks[p.label] = f"{marks[p.label]}, {name}" if p.label in marks else name
    return marks


def report(out: Path, rows: list[dict], title: str, rtf: dict | None = None) -> str:
    """Write summary.md and frontier.png from ``rows``; return the markdown. ``rtf``: the
    top axis's keywords of ``plot_frontier`` (rtf_per_call, rtf_offset, rtf_label)."""
    from pianodiff.evaluation.frontier import markdown, summarise
    from pianodiff.evaluation.frontier_plot import plot_frontier

    summary = summarise(rows)
    table = markdown(summary, title)
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(table)
    if summary:
        plot_frontier(summary, out / "frontier.png", preset_points(rows), **(rtf or {}))
    return table


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as sampler settings, each value read as YAML (0.5, false, 6);
    ValueError naming the item when one has no ``=`` or no key."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE (e.g. rho=0.5), got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def with_settings(families: list, settings: dict[str, Any]) -> list:
    """``families`` with ``settings`` merged into their params, each label naming them."""
    from dataclasses import replace

    if not settings:
        return families
    note = ", ".join(f"{k}={v}" for k, v in settings.items())
    return [
        replace(f, label=f"{f.label} [{note}]", params={**f.params, **settings}) for f in families
    ]


def _harmony_of(row: dict) -> float:
    """The harmony strength a row ran with (rows from before it was recorded ran with 0)."""
    try:
        return float(row.get("harmony") or 0.0)
    except ValueError:
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 per point")
    parser.add_argument("--steps", default="5,10,20,30,50", help="step counts of free samplers")
    parser.add_argument("--samplers", default=None, help="only these conf/sampler options")
    parser.add_argument("--families", default=None, help="only these family labels (;-sep.)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a sampler setting for every family run (e.g. rho=0.5); labels name it",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="new seconds after the base")
    parser.add_argument("--bf16", action="store_true", help="the network under bf16 autocast")
    parser.add_argument(
        "--harmony",
        type=float,
        default=0.0,
        help="harmony guidance strength of the extension (0: the sampler alone; generate's "
        "harmony.strength, 15 as shipped, for what a user hears)",
    )
    parser.add_argument("--checkpoint", default=None, help="export folder (default: bundled)")
    parser.add_argument("--out", default="frontier-results", help="output folder")
    parser.add_argument("--plot-only", action="store_true", help="redraw from rows.csv")
    parser.add_argument(
        "--from-rows",
        nargs="+",
        default=None,
        metavar="CSV",
        help="merge these rows.csv files (and --out's own, first) into --out, then redraw",
    )
    parser.add_argument(
        "--rtf",
        nargs=3,
        default=None,
        metavar=("OFFSET", "PER_CALL", "LABEL"),
        help="draw an RTF axis: RTF = OFFSET + calls x PER_CALL (make bench's fit), LABEL "
        "naming the host and precision",
    )
    parser.add_argument(
        "--rtf-baseline",
        type=float,
        default=None,
        help="with --rtf: today's default's fp32 RTF from the same bench, drawn as a line",
    )
    args = parser.parse_args(argv)
    try:
        settings = parse_settings(args.set)
    except ValueError as err:
        print(f"frontier: {err}")
        return 2
    rtf = None
    if args.rtf:
        try:
            offset, per_call = float(args.rtf[0]), float(args.rtf[1])
        except ValueError:
            print(f"frontier: --rtf takes two numbers and a label, got {' '.join(args.rtf)}")
            return 2
        if not per_call > 0:
            print(f"frontier: --rtf's per-call RTF must be above 0, got {args.rtf[1]}")
            return 2
        rtf = {"rtf_offset": offset, "rtf_per_call": per_call, "rtf_label": args.rtf[2]}
        rtf["rtf_baseline"] = args.rtf_baseline

    import torch

    from pianodiff.api import Generator
    from pianodiff.evaluation.frontier import (
        completed,
        default_families,
        points,
        run_point,
        runnable,
    )
    from pianodiff.generation.configs import build_plan, generate_settings
    from pianodiff.generation.paths import resolve_checkpoint
    from pianodiff.measures.notes import model_path

    missing = [p for p in args.from_rows or [] if not Path(p).is_file()]
    if missing:
        print(f"frontier: no rows file {missing[0]}; give the rows.csv of an earlier run")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "rows.csv"
    rows = read_rows(csv_path)
    if args.from_rows:
        rows = merge_rows([rows, *(read_rows(Path(p)) for p in args.from_rows)])
        write_rows(rows, csv_path)
    mixed = {h for h in (_harmony_of(r) for r in rows) if h != args.harmony}
    if mixed and not (args.plot_only or args.from_rows):
        print(
            f"frontier: {csv_path} holds rows with harmony {sorted(mixed)[0]:g}, not "
            f"{args.harmony:g}; give another --out"
        )
        return 2
    checkpoint = resolve_checkpoint(args.checkpoint)
    title = (
        f"Sampler frontier of {checkpoint}: unconditional {5 + args.seconds:g} s clips, "
        f"harmony guidance {args.harmony:g} (`python -m benchmarks.frontier`)"
    )
    if args.plot_only or args.from_rows:
        print(report(out, rows, title, rtf))
        return 0
    model_path()  # the note measure is required: fail now, in one line, not after an hour
    gen = Generator.from_checkpoint(checkpoint, device="cpu", bf16=args.bf16)
    families = default_families([int(s) for s in args.steps.split(",")])
    if args.samplers:
        keep = set(args.samplers.split(","))
        families = [f for f in families if f.sampler in keep]
    if args.families:
        keep = set(args.families.split(";"))
        families = [f for f in families if f.label in keep]
    families = runnable(families, gen.model)  # restart walks need a distilled student
    grid = points(with_settings(families, settings), max_steps=gen.model.schedule.num_steps)
    for point in grid:  # a bad setting is one line now, not a traceback an hour in
        try:
            generate_settings({"sampler": point.sampler}, {"sampler": point.params})
            build_plan(point.sampler, gen.model.schedule, **point.params)
        except Exception as err:  # noqa: BLE001  (omegaconf's key errors, the plan's checks)
            print(f"frontier: {point.label}: {str(err).splitlines()[0]}")
            return 2
    done = completed(rows)
    todo = [(p, s) for p in grid for s in range(args.seeds) if (p.label, s, args.bf16) not in done]
    print(f"{len(grid)} points x {args.seeds} seeds: {len(todo)} clips to go", flush=True)
    for k, (point, seed) in enumerate(todo, 1):
        with torch.no_grad():
            row = run_point(gen, point, seed, args.seconds, harmony=args.harmony)
        rows.append(row)
        write_rows(rows, csv_path)
        print(
            f"[{k}/{len(todo)}] {point.label} seed {seed}: note frames {row['note_frames']:.2f}, "
            f"hiss {row['hiss_db']:.1f} dB, flatness {row['tonality']:.3f}, "
            f"{row['wall_s']:.0f} s",
            flush=True,
        )
    print(report(out, rows, title, rtf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
