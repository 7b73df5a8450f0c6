"""Rank network shapes trained side by side at equal CPU time, by what a listener hears.

    python -m studies.net_study label=outputs/<name>/<run> [label=...] [--out table.md]

Each run must have been trained with ``callbacks.cpu_time_limit.seconds=<budget>`` (so
every run got the same CPU time) and evaluated into ``<run>/eval`` by the harness, e.g.

    python -m pianodiff.evaluate checkpoint=<run>/export hydra.run.dir=<run>/eval \\
        gap.enabled=false files=3 extension.seconds=2.0 extenders=[interpolation]

The table has, per run: steps and CPU seconds per step (from its ``metrics.csv``), the last
validation ratio model/Wiener (below 1: beyond the training set's average spectrum), and
from the harness: unconditional note frames, notes per second and tonality; the note
frames of continuations; the same-seed correlation of continuations of different prompts
beyond 0.5 s after the cut; the share of continuations whose chroma is closer to their own
prompt; the median seam score.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _mean(values: list[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    return statistics.fmean(kept) if kept else math.nan


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _training_log(run: Path) -> list[dict[str, str]]:
    """The rows of a run's CSV log; none for a folder without one (an evaluated export)."""
    logs = sorted(run.glob("csv/**/metrics.csv"))
    return _read_csv(logs[0]) if logs else []


def training_figures(run: Path) -> dict[str, float]:
    """Steps, CPU seconds per step and the last validation model/Wiener ratio of a run.

    A folder without training logs (an export evaluated for comparison) gives NaNs.
    """
    rows = _training_log(run)
    timed = [r for r in rows if r.get("train/cpu_seconds")]
    val = [r for r in rows if r.get("val/ref_model") and r.get("val/ref_wiener")]
    steps = int(timed[-1]["step"]) + 1 if timed else 0
    cpu = _float(timed[-1]["train/cpu_seconds"]) if timed else math.nan
    last = val[-1] if val else {}
    ratio = _float(last.get("val/ref_model")) / _float(last.get("val/ref_wiener"))
    return {"steps": steps, "cpu_s": cpu, "cpu_s_per_step": cpu / max(steps, 1), "val_ratio": ratio}


def validation_curve(run: Path) -> list[tuple[float, float]]:
    """(CPU seconds, val model/Wiener) at every validation of a run.

    Validation rows carry a step, not the CPU used: it is read off the nearest training row
    at or before that step.
    """
    rows = _training_log(run)
    timed = sorted(
        (int(r["step"]), _float(r["train/cpu_seconds"])) for r in rows if r.get("train/cpu_seconds")
    )
    curve = []
    for r in rows:
        if r.get("val/ref_model") and r.get("val/ref_wiener"):
            step = int(r["step"])
            before = [cpu for s, cpu in timed if s <= step]
            if before:
                ratio = _float(r["val/ref_model"]) / _float(r["val/ref_wiener"])
                curve.append((before[-1], ratio))
    return curve


def plot_curves(runs: dict[str, Path], out: Path) -> None:
    """Validation model/Wiener against CPU hours, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, run in runs.items():
        curve = validation_curve(run)
        if curve:
            ax.plot([c / 3600 for c, _ in curve], [r for _, r in curve], marker="o", label=label)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("CPU hours of training")
    ax.set_ylabel("held-out L1 on ε, model / Wiener")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def listening_figures(results: Path, extender: str | None = None) -> dict[str, float]:
    """Means over the harness's rows (results.csv) of one evaluated checkpoint.

    ``extender`` keeps the continuation rows of that extender only (the unconditional rows
    are shared by every extender).
    """
    rows = [
        r
        for r in _read_csv(results)
        if extender is None or r["task"] == "unconditional" or r["extender"] == extender
    ]
    by_task: dict[str, list[dict]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)

    def col(task: str, key: str) -> list[float]:
        return [_float(r.get(key)) for r in by_task.get(task, [])]

    corr_key = next((k for k in rows[0] if k.startswith("corr_") and k.endswith("s-end")), "")
    own_key = next((k for k in rows[0] if "own" in k and "closer" in k), "")
    seams = [v for v in col("seam", "seam_score") if math.isfinite(v)]
    return {
        "uncond_note_frames": _mean(col("unconditional", "note_frames")),
        "uncond_notes_per_s": _mean(col("unconditional", "notes_per_s")),
        "uncond_tonality": _mean(col("unconditional", "tonality")),
        "cont_note_frames": _mean(col("extend", "note_frames")),
        "corr_after_0.5s": _mean(col("influence", corr_key)) if corr_key else math.nan,
        "own_chroma_closer": _mean(col("influence", own_key)) if own_key else math.nan,
        "seam_median": statistics.median(seams) if seams else math.nan,
    }


COLUMNS = [
    ("run", "run"),
    ("steps", "steps"),
    ("cpu_s_per_step", "CPU s/step"),
    ("val_ratio", "val model/Wiener"),
    ("uncond_note_frames", "note frames (uncond.)"),
    ("uncond_notes_per_s", "notes/s (uncond.)"),
    ("uncond_tonality", "tonality (uncond.)"),
    ("cont_note_frames", "note frames (cont.)"),
    ("corr_after_0.5s", "same-seed corr > 0.5 s"),
    ("own_chroma_closer", "own chroma closer"),
    ("seam_median", "seam median"),
]


def table(rows: list[dict]) -> str:
    def fmt(v) -> str:
        if isinstance(v, float):
            return "–" if math.isnan(v) else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r.get(k, math.nan)) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="label=run_dir (its eval/ holds results.csv)")
    parser.add_argument("--out", help="also write the table to this markdown file")
    parser.add_argument("--plot", help="also plot validation model/Wiener by CPU time (PNG)")
    args = parser.parse_args(argv)
    rows = []
    runs: dict[str, Path] = {}
    for item in args.runs:
        label, sep, path = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: write label=run_dir")
        run = runs[label] = Path(path)
        if not _training_log(run) and not list(run.glob("eval*/results.csv")):
            print(
                f"error: {run} holds no csv/metrics.csv and no eval*/results.csv; pass a run "
                "folder (trained with logger=csv, evaluated into <run>/eval)",
                file=sys.stderr,
            )
            return 2
        row = {"run": label, **training_figures(run)}
        for results in sorted(run.glob("eval*/results.csv")):
            suffix = results.parent.name.removeprefix("eval")
            extenders = sorted({r["extender"] for r in _read_csv(results) if r["task"] == "extend"})
            for extender in extenders or [None]:
                name = f"{label}{suffix}" + (f" · {extender}" if len(extenders) > 1 else "")
                rows.append({**row, "run": name, **listening_figures(results, extender)})
        if not any(r["run"].startswith(label) for r in rows):
            rows.append(row)
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.plot:
        plot_curves(runs, Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
