"""Curves of a training campaign run in legs, against the CPU time it cost.

    python -m studies.campaign_curves --legs <leg0>/csv/metrics.csv <leg1>/csv/metrics.csv ... \
        --eval 4.11=outputs/eval_leg5/results.csv --out studies/img/campaign_curves.png

Each leg is a run's CSV-logger ``metrics.csv`` (``logger=csv``), oldest first. A leg that
resumed the previous one (``ckpt_path=``) carries its step and CPU counts on; where the two
overlap (a checkpoint older than the previous leg's last logged step) the resumed leg's rows
win. A leg that starts from step 0 was a warm start (``init_from=``): its counts restart, so
the previous leg's final counts are added to them.

Three panels against cumulative CPU-hours: held-out loss ÷ the Wiener reference, and the
training demo's tonality and transcribed note frames; ``--eval HOURS=results.csv`` adds the
evaluation harness's unconditional means (the targets' measure) as markers at HOURS, and
``--judged BRANCH@HOURS=results.csv`` the checkpoints judged on many seeds, as mean ± standard
error joined per branch (a branch is a run resumed from one checkpoint of the campaign).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WARM_START_MAX_STEP = 100  # a leg whose first logged step is below this restarted its count


@dataclass
class Series:
    """Cumulative (CPU-hours, value) points of one logged quantity, in log order."""

    hours: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


def _number(row: dict[str, str], key: str) -> float | None:
    try:  # an empty cell is "", a cell missing from a short row is None
        value = float(row.get(key) or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_leg(path: Path) -> list[dict[str, float]]:
    """Rows of a metrics.csv as {column: value} with the empty cells left out.

    Rows without a CPU count (Lightning logs the learning rate on rows of its own) take the
    last count seen, so validation rows get the time they were measured at.
    """
    rows: list[dict[str, float]] = []
    cpu = None
    with path.open(newline="") as handle:
        for raw in csv.DictReader(handle):
            row = {k: v for k in raw if (v := _number(raw, k)) is not None}
            cpu = row.get("train/cpu_seconds", cpu)
            if "step" not in row or cpu is None:
                continue
            row["train/cpu_seconds"] = cpu
            rows.append(row)
    return rows


def join_legs(legs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """One campaign from its legs, with cumulative ``step`` and ``train/cpu_seconds``."""
    campaign: list[dict[str, float]] = []
    step_offset = cpu_offset = 0.0
    for rows in legs:
        if not rows:
            continue
        first_step = rows[0]["step"]
        if campaign and first_step < WARM_START_MAX_STEP:
            step_offset = campaign[-1]["step"]
            cpu_offset = campaign[-1]["train/cpu_seconds"]
        else:
            resumed_at = first_step + step_offset
            campaign = [r for r in campaign if r["step"] < resumed_at]
        for row in rows:
            shifted = dict(row)
            shifted["step"] = row["step"] + step_offset
            shifted["train/cpu_seconds"] = row["train/cpu_seconds"] + cpu_offset
            campaign.append(shifted)
    return campaign


def series(campaign: list[dict[str, float]], key: str) -> Series:
    """The campaign's points of ``key`` against cumulative CPU-hours."""
    out = Series()
    for row in campaign:
        if key in row:
            out.hours.append(row["train/cpu_seconds"] / 3600.0)
            out.values.append(row[key])
    return out


def wiener_ratio(campaign: list[dict[str, float]]) -> Series:
    """The EMA net's held-out loss ÷ the Wiener reference's, on the same draws, at each
    validation (both logged by the reference-losses callback)."""
    out = Series()
    for row in campaign:
        if "val/ref_model" in row and row.get("val/ref_wiener"):
            out.hours.append(row["train/cpu_seconds"] / 3600.0)
            out.values.append(row["val/ref_model"] / row["val/ref_wiener"])
    return out


def unconditional_values(results: Path) -> dict[str, list[float]]:
    """Per-seed tonality and note frames of the harness's unconditional rows."""
    values: dict[str, list[float]] = {"tonality": [], "note_frames": []}
    with results.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("task") == "unconditional":
                for key, column in values.items():
                    column.append(float(row[key]))
    if not values["tonality"]:
        raise ValueError(f"{results} holds no unconditional rows")
    return values


def unconditional_means(results: Path) -> dict[str, float]:
    """Mean tonality and note frames of the harness's unconditional rows."""
    return {key: sum(v) / len(v) for key, v in unconditional_values(results).items()}


def mean_and_standard_error(values: list[float]) -> tuple[float, float]:
    """The mean and its standard error (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


@dataclass
class Judged:
    """A checkpoint judged on many seeds: its branch, its CPU-hours and the harness table."""

    branch: str
    hours: float
    results: Path


def parse_eval(text: str) -> tuple[float, Path]:
    hours, _, path = text.partition("=")
    if not path:
        raise ValueError(f"--eval takes HOURS=results.csv, got {text!r}")
    return float(hours), Path(path)


def parse_judged(text: str) -> Judged:
    branch, at, rest = text.partition("@")
    hours, _, path = rest.partition("=")
    if not (branch and at and hours and path):
        raise ValueError(f"--judged takes BRANCH@HOURS=results.csv, got {text!r}")
    return Judged(branch, float(hours), Path(path))


def plot_judged(ax, judged: list[Judged], key: str) -> None:
    """One error-bar line per branch, in the order the branches first appear."""
    branches = list(dict.fromkeys(j.branch for j in judged))
    for branch in branches:
        points = sorted((j for j in judged if j.branch == branch), key=lambda j: j.hours)
        per_seed = [unconditional_values(j.results)[key] for j in points]
        stats = [mean_and_standard_error(values) for values in per_seed]
        ax.errorbar(
            [j.hours for j in points],
            [m for m, _ in stats],
            yerr=[e for _, e in stats],
            fmt="o-",
            capsize=3,
            label=f"{branch} ({len(per_seed[0])} seeds, ± SE)",
        )


def plot(
    campaign: list[dict[str, float]],
    evals: list[tuple[float, Path]],
    out: Path,
    judged: list[Judged] | None = None,
) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.5))
    ratio = wiener_ratio(campaign)
    axes[0].plot(ratio.hours, ratio.values, "o-", ms=3)
    axes[0].axhline(1.0, color="grey", lw=0.8, ls=":")
    axes[0].set(title="held-out loss ÷ Wiener", xlabel="CPU-hours", ylabel="ratio")
    targets = {"tonality": (1, 0.25), "note_frames": (2, 0.5)}
    for key, (index, goal) in targets.items():
        ax = axes[index]
        demo = series(campaign, f"demo/{key}")
        ax.plot(demo.hours, demo.values, "s-", label="training demo (ddim, 2 s)")
        for n, (hours, path) in enumerate(evals):
            ax.plot(
                hours,
                unconditional_means(path)[key],
                "r*",
                ms=12,
                label="harness: default sampler, mean of its seeds" if n == 0 else None,
            )
        plot_judged(ax, judged or [], key)
        ax.axhline(goal, color="green", lw=0.8, ls="--", label="target")
        ax.set(title=f"{key.replace('_', ' ')} (target {goal})", xlabel="CPU-hours")
    handles, labels = axes[2].get_legend_handles_labels()  # the same entries on both panels
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.04 + 0.04 * math.ceil(len(labels) / 3), 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.png")
    fig.savefig(partial, dpi=110)
    partial.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--legs", nargs="+", type=Path, required=True, help="metrics.csv of each leg, oldest first"
    )
    parser.add_argument(
        "--eval",
        nargs="*",
        default=[],
        type=parse_eval,
        help="HOURS=results.csv of an evaluation of the export at HOURS",
    )
    parser.add_argument(
        "--judged",
        nargs="*",
        default=[],
        type=parse_judged,
        help="BRANCH@HOURS=results.csv of a checkpoint judged on many seeds",
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.legs if not p.is_file()]
    if missing:
        print(
            f"error: no metrics.csv at {', '.join(missing)}; pass the legs' "
            "<run>/csv/metrics.csv (train with logger=csv)",
            file=sys.stderr,
        )
        return 2
    try:
        campaign = join_legs([read_leg(p) for p in args.legs])
    except (UnicodeDecodeError, csv.Error) as err:
        problem = f"a leg is not a CSV-logger metrics.csv ({err})"
        print(f"error: {problem}; pass <run>/csv/metrics.csv", file=sys.stderr)
        return 2
    plot(campaign, args.eval, args.out, args.judged)
    last = campaign[-1]
    print(
        f"{len(args.legs)} legs: {last['step']:.0f} steps, "
        f"{last['train/cpu_seconds'] / 3600:.2f} CPU-hours -> {args.out}"
    )
    ratio = wiener_ratio(campaign)
    if ratio.values:
        print(
            f"held-out loss / Wiener: first {ratio.values[0]:.3f}, "
            f"best {min(ratio.values):.3f}, last {ratio.values[-1]:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
