"""``make bench``: every benchmark in one report, each figure a ratio against a baseline
measured in the same run.

    python -m benchmarks.run [--quick] [--out bench-results] [--only presets,forward]

Gathers ``benchmarks.forward`` (inference fast path), ``benchmarks.presets`` (host kind,
GEMM floors, the forward against them, every preset's RTF against today's default in fp32),
``benchmarks.quality`` (bf16's effect on generated audio), ``benchmarks.train_throughput``,
``benchmarks.train_step`` (network shape and torch.compile of the CPU training step) and
``benchmarks.generation_cost``.
A module that is not there yet is reported as "not available yet"; one that fails is
reported with its error. No row is ever made up. Writes ``report.md`` and ``report.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from pianodiff.core.audio import atomic_path

MODULES = (
    ("forward", "benchmarks.forward"),
    ("presets", "benchmarks.presets"),
    ("quality", "benchmarks.quality"),
    ("train", "benchmarks.train_throughput"),
    ("train step", "benchmarks.train_step"),
    ("generation", "benchmarks.generation_cost"),
)


def machine() -> str:
    """A one-line description of where the figures were measured."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} CPU cores, {gpu}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def gather(quick: bool, only: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Rows of every benchmark module (or of the sections ``only`` names), and notes about
    the ones that gave none."""
    rows, notes = [], []
    for section, module_name in MODULES:
        if only is not None and section not in only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            notes.append(f"{section}: {module_name} not available yet")
            print(notes[-1], flush=True)
            continue
        start = time.perf_counter()
        print(f"running {module_name} ...", flush=True)
        try:
            got = module.main(quick)
        except Exception as err:  # report the failure; never invent a row
            notes.append(f"{section}: {module_name} failed: {err.__class__.__name__}: {err}")
            print(notes[-1], flush=True)
            continue
        for row in got:
            rows.append({"section": section, **row})
        print(f"  {len(got)} rows in {time.perf_counter() - start:.0f} s", flush=True)
    return rows, notes


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(rows: list[dict], notes: list[str], header: str) -> str:
    lines = [header, "", "| section | figure | value | baseline | ratio | unit | rel. error |"]
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["section"], r["name"], r.get("value"), r.get("baseline"), r.get("ratio")]
        cells += [r.get("unit", ""), r.get("rel_error")]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pianodiff benchmarks, one report")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no compile")
    parser.add_argument("--out", default="bench-results", help="report folder")
    parser.add_argument(
        "--only", default=None, help="comma-separated sections, e.g. presets,forward"
    )
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else None
    sections = [name for name, _ in MODULES]
    unknown = [name for name in only or [] if name not in sections]
    if unknown:
        print(f"bench: no section '{unknown[0]}'; choose from: {', '.join(sections)}")
        return 2
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, notes = gather(args.quick, only)
    command = "python -m benchmarks.run" + (" --quick" if args.quick else "")
    command += f" --only {args.only}" if args.only else ""
    header = (
        f"# pianodiff benchmarks ({'quick' if args.quick else 'full'}), {started}\n\n"
        f"Machine: {machine()}. Command: `{command}`. Every ratio is against the baseline "
        "measured in the same run."
    )
    report = markdown(rows, notes, header)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(report)
    with atomic_path(out / "report.json") as tmp:
        payload = {"started": started, "machine": machine(), "quick": args.quick}
        tmp.write_text(json.dumps({**payload, "rows": rows, "notes": notes}, indent=1))
    print()
    print(report)
    print(f"report: {out / 'report.md'}, {out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
