"""The frontier drawn: note frames and hiss floor against network calls per window.

One line per sampler family (its points ordered by calls), presets marked and named. When
the time per call on a host is known (``benchmarks/presets.py`` fits RTF = offset + calls ×
per-call over the presets it times), a second x axis gives the real-time factor of 30 s
there: that axis is a relabelling of the calls axis by the measured line, not a new figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pianodiff.core.safe_writes import atomic_path


def _calls_to_rtf(offset: float, per_call: float):
    """The pair of maps calls -> RTF and back, for a secondary axis."""
    return (lambda c: offset + c * per_call), (lambda r: (r - offset) / per_call)


def plot_frontier(
    summary: Sequence[dict],
    path: Path,
    presets: dict[str, str] | None = None,
    rtf_per_call: float | None = None,
    rtf_label: str = "",
    rtf_offset: float = 0.0,
    rtf_baseline: float | None = None,
    bf16: bool | None = None,
) -> Path:
    """Draw ``summary`` (``evaluation.frontier.summarise``) to a PNG at ``path``.

    Args:
        presets: point label -> preset name, marked on both panels.
        rtf_per_call: real-time factor of one call per window on some host (RTF =
            ``rtf_offset`` + calls × this); None leaves the top axis out.
        rtf_baseline: the RTF of a reference on that host (today's default in fp32), drawn
            as a dotted line: points left of it generate faster than the reference.
        rtf_label: what that host and precision were, for the axis title.
        bf16: draw the bf16 rows (True) or the fp32 rows (False); None: the precision with
            more points.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    presets = presets or {}
    if bf16 is None:
        bf16 = 2 * sum(s["bf16"] for s in summary) > len(summary)
    rows = [s for s in summary if s["bf16"] == bf16]
    families = sorted({s["family"] for s in rows}, key=lambda f: (f != "ddpm", f))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, key, title in (
        (axes[0], "note_frames", "note frames (basic-pitch, higher = more notes)"),
        (axes[1], "hiss_db", "hiss floor dB (lower = cleaner background)"),
    ):
        for fam in families:
            pts = sorted(
                (s for s in rows if s["family"] == fam), key=lambda s: s["calls_per_window"]
            )
            xs = [s["calls_per_window"] for s in pts]
            ys = [s[key] for s in pts]
            ax.plot(xs, ys, marker="o", ms=4, label=fam)
        for s in rows:
            if s["point"] in presets:
                ax.plot(s["calls_per_window"], s[key], "k*", ms=13, zorder=5)
                ax.annotate(
                    presets[s["point"]],
                    (s["calls_per_window"], s[key]),
                    textcoords="offset points",
                    xytext=(6, 6),
                    fontsize=9,
                    weight="bold",
                )
        ax.set_xscale("log")
        ticks = sorted({s["calls_per_window"] for s in rows})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("network calls per window")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        if rtf_per_call:
            top = ax.secondary_xaxis("top", functions=_calls_to_rtf(rtf_offset, rtf_per_call))
            kept = [ticks[0]] if ticks else []
            for t in ticks[1:]:  # labels at least 15 % apart on the log axis, so none overlap
                if t >= 1.15 * kept[-1]:
                    kept.append(t)
            rtfs = [rtf_offset + t * rtf_per_call for t in kept]
            top.set_xticks(rtfs, [f"{r:.2g}" for r in rtfs], fontsize=8)
            top.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            top.set_xlabel(f"real-time factor, 30 s ({rtf_label})", fontsize=8)
            if rtf_baseline:
                at = (rtf_baseline - rtf_offset) / rtf_per_call
                ax.axvline(at, color="gray", ls=":", lw=1.2)
                ax.annotate(
                    f"dpmpp_2m 10 fp32\n(RTF {rtf_baseline:.2g})",
                    (at, 0.3 if key == "note_frames" else 0.75),  # clear of the lines
                    xycoords=("data", "axes fraction"),
                    xytext=(-3, 0),
                    textcoords="offset points",
                    ha="right",
                    fontsize=7,
                    color="gray",
                )
    axes[0].legend(fontsize=8, loc="lower right")
    precision = "bf16 autocast" if bf16 else "fp32"
    seeds = min((s["seeds"] for s in rows), default=0)
    fig.suptitle(f"sampler frontier, {precision}, ≥ {seeds} seeds per point", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
