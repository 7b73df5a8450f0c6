"""Curves of several training runs on one figure, by step: how far each is beyond Wiener.

    python -m studies.compare_runs --run plain=outputs/piano14_cpu/<run> \\
        --run precond=outputs/piano14_cpu_precond/<run> --out studies/img/runs_compared.png

A warm-started run counts its steps from 0: ``--run label=run_dir@1486`` shifts them so a
continuation lines up after the run it started from.

Reads each run's offline W&B records (several resumed sessions of one run: pass each run
dir, the label joins them) and plots the validation loss, the held-out ``val/ref_model /
val/ref_wiener`` (below 1: beyond the average spectrum), the training loss of the cleanest
quarter of t and the demo samples' tonality. Prints the last values of each.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from studies.training_report import run_history  # noqa: E402


def series(rows: list[dict[str, float]], key, denominator=None) -> list[tuple[float, float]]:
    out = []
    for r in rows:
        if key in r and (denominator is None or denominator in r):
            value = r[key] / r[denominator] if denominator else r[key]
            out.append((r["trainer/global_step"], value))
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run", action="append", required=True, help="label=run_dir[@step_offset] (repeat)"
    )
    parser.add_argument("--out", type=Path, default=Path("studies/img/runs_compared.png"))
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {}
    for item in args.run:
        label, _, folder = item.partition("=")
        folder, _, offset = folder.partition("@")
        try:
            rows = run_history(Path(folder))
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for row in rows:
            if "trainer/global_step" in row:
                row["trainer/global_step"] += float(offset or 0)
        runs.setdefault(label, []).extend(rows)

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), dpi=90)
    panels = [
        ("val/loss: held-out L1 on ε (EMA, fixed draws)", "val/loss", None),
        ("held-out model / Wiener (val/ref_*)", "val/ref_model", "val/ref_wiener"),
        ("train L1 on ε, cleanest quarter of t", "train/loss_t000-011", None),
        ("demo sample tonality (real piano 0.05)", "demo/tonality", None),
    ]
    for ax, (title, key, denominator) in zip(axes, panels):
        for index, (label, rows) in enumerate(runs.items()):
            pts = series(rows, key, denominator)
            if pts:
                xs, ys = zip(*pts)
                style = "o-" if len(pts) < 40 else "-"
                # One colour per run in every panel, also where an earlier run logged nothing.
                ax.plot(xs, ys, style, color=f"C{index}", label=label, ms=3, lw=1.2)
                print(f"{label:>12} {key}: " + ", ".join(f"{x:.0f}:{y:.3f}" for x, y in pts[-6:]))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print("figure:", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
