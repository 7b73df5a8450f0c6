"""Evaluation outputs: a CSV of every row, a markdown summary, PNG plots (the W&B run is
``tracking/evaluate_run.py``)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import torch

from pianodiff.core.audio import atomic_path

NEW_AUDIO = ("extend", "unconditional")  # tasks whose rows measure generated audio
SUMMARY_COLUMNS = [  # (column, header, row tasks it comes from)
    ("lsd_db", "gap LSD dB", ("gap",)),
    ("snr_db", "gap SNR dB", ("gap",)),
    ("seam_score", "seam score", ("seam",)),
    ("seam_percentile", "seam pct of natural", ("seam",)),
    ("chroma_generated", "chroma across seam", ("seam",)),
    ("chroma_real", "chroma real", ("seam",)),
    ("known_snr_db", "known-region SNR dB", ("extend",)),
    ("tonality", "tonality", NEW_AUDIO),
    ("hiss_db", "hiss floor dB", ("unconditional",)),
    ("tonality_real", "tonality real", ("extend",)),
    ("onset_rate", "onsets/s", NEW_AUDIO),
    ("onset_rate_real", "onsets/s real", ("extend",)),
    ("note_frames", "note frames", NEW_AUDIO),
    ("note_frames_real", "note frames real", ("extend",)),
    ("notes_per_s", "notes/s", NEW_AUDIO),
    ("notes_per_s_real", "notes/s real", ("extend",)),
    ("own_prompt_closer", "own-prompt chroma closer", ("influence",)),
    ("follows", "key top-1", ("key",)),
    ("follows_real", "key top-1 real", ("key",)),
    ("nfe", "NFE/window", NEW_AUDIO),
    ("net_audio_s_per_s", "net-audio-s per s", ("extend",)),
    ("realtime_factor", "wall s per s", ("extend",)),
]
CORRELATION_PREFIX = "corr_"  # influence rows: same-seed correlation per range after the cut


def summary_columns(summary: dict) -> list[tuple[str, str]]:
    """(column, header) of the summary's columns, in table order, present ones only."""
    keys = {k for s in summary.values() for k in s}
    fixed = [(c, h) for c, h, _ in SUMMARY_COLUMNS if c in keys]
    corr = sorted(k for k in keys if k.startswith(CORRELATION_PREFIX))
    # same-seed correlations go before the chroma share they belong with
    at = next((i for i, (c, _) in enumerate(fixed) if c == "own_prompt_closer"), len(fixed))
    named = [(k, "same-seed corr " + k[len(CORRELATION_PREFIX) :]) for k in corr]
    return fixed[:at] + sorted(named, key=_range_start) + fixed[at:]


def _range_start(item: tuple[str, str]) -> float:
    lo = item[0][len(CORRELATION_PREFIX) :].split("-")[0].rstrip("s")
    return float(lo)


def write_csv(rows: list[dict], path: Path) -> Path:
    """All rows (union of their keys as columns) to ``path``, atomically."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _mean(values: list[float]) -> float:
    """Mean ignoring NaN (metric undefined); +inf stays (an SNR of an exact copy)."""
    kept = [float(v) for v in values if isinstance(v, int | float) and v == v]
    return sum(kept) / len(kept) if kept else float("nan")


def summarise(rows: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (extender, sampler): the mean of each summary column and LSD per gap length."""
    groups: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        g = groups[(row["extender"], row["sampler"])]
        for key, _, tasks in SUMMARY_COLUMNS:
            if row["task"] in tasks and key in row:
                g[key].append(row[key])
        if row["task"] == "influence":
            for key in row:
                if key.startswith(CORRELATION_PREFIX):
                    g[key].append(row[key])
        if row["task"] == "gap":
            g[f"gap{row['gap_ms']}_lsd"].append(row["lsd_db"])
            g[f"gap{row['gap_ms']}_snr"].append(row["snr_db"])
    return {k: {c: _mean(v) for c, v in g.items()} for k, g in groups.items()}


def _fmt(v: float) -> str:
    if v != v:
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def markdown_table(summary: dict, natural: torch.Tensor, header: str = "") -> str:
    """The summary as markdown: one row per (extender, sampler), plus the gap table."""
    present = summary_columns(summary)
    lines = [header] if header else []
    lines.append("| extender | sampler | " + " | ".join(h for _, h in present) + " |")
    lines.append("|---|---|" + "---|" * len(present))
    for (ext, smp), s in summary.items():
        cells = [_fmt(s.get(c, float("nan"))) for c, _ in present]
        lines.append(f"| {ext} | {smp} | " + " | ".join(cells) + " |")
    gaps = sorted({int(k[3:-4]) for s in summary.values() for k in s if k.endswith("_lsd")})
    if gaps:
        lines += ["", "Gap filling, LSD dB / SNR dB by gap length:", ""]
        lines.append("| extender | sampler | " + " | ".join(f"{g} ms" for g in gaps) + " |")
        lines.append("|---|---|" + "---|" * len(gaps))
        for (ext, smp), s in summary.items():
            cells = [
                f"{_fmt(s.get(f'gap{g}_lsd', math.nan))} / {_fmt(s.get(f'gap{g}_snr', math.nan))}"
                for g in gaps
            ]
            lines.append(f"| {ext} | {smp} | " + " | ".join(cells) + " |")
    if natural.numel():
        q = torch.quantile(natural, torch.tensor([0.5, 0.9, 0.99], dtype=natural.dtype))
        lines += [
            "",
            f"Natural seam distribution ({natural.numel()} random cuts of the real audio): "
            f"median {q[0]:.3g}, 90th pct {q[1]:.3g}, 99th pct {q[2]:.3g}.",
        ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], natural: torch.Tensor, out_dir: Path) -> list[Path]:
    """PNGs: seam scores against the natural distribution; gap LSD by gap length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    pairs = sorted({(r["extender"], r["sampler"]) for r in rows})
    seams = [r for r in rows if r["task"] == "seam" and math.isfinite(r["seam_score"])]
    if seams or natural.numel():
        fig, ax = plt.subplots(figsize=(7, 4))
        if natural.numel():
            ax.hist(
                natural.numpy(), bins=40, density=True, alpha=0.4, label="real audio, random cuts"
            )
        for ext, smp in pairs:
            vals = [r["seam_score"] for r in seams if (r["extender"], r["sampler"]) == (ext, smp)]
            if vals:
                ax.plot(vals, [0] * len(vals), "|", markersize=25, label=f"{ext}/{smp} seams")
        ax.set_xlabel("seam score (max log-mel change at seam / median change)")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir / "seam_scores.png"))
    gaps = [r for r in rows if r["task"] == "gap"]
    if gaps:
        fig, ax = plt.subplots(figsize=(7, 4))
        for ext, smp in pairs:
            mine = [r for r in gaps if (r["extender"], r["sampler"]) == (ext, smp)]
            lengths = sorted({r["gap_ms"] for r in mine})
            lsd = [_mean([r["lsd_db"] for r in mine if r["gap_ms"] == g]) for g in lengths]
            ax.plot(lengths, lsd, "o-", label=f"{ext}/{smp}")
        ax.set_xscale("log")
        ax.set_xlabel("gap length (ms)")
        ax.set_ylabel("LSD on the gap (dB, lower is better)")
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir / "gap_lsd.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
