"""Static figures of a generated piece: its mel spectrogram with the seams, cost and seams.

Used by the W&B logger, the multirun comparison panel and the training history panel, so
every place shows a run the same way. Matplotlib with the Agg backend; files written
atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from pianodiff import SAMPLE_RATE  # noqa: E402
from pianodiff.core.audio import atomic_path, log_mel  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 80) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def draw_mel(
    ax: plt.Axes,
    audio: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    seams_seconds: list[float] | None = None,
    known_seconds: tuple[float, float] | None = None,
) -> None:
    """Draw the log-mel spectrogram (80 mels) of (T,) audio on ``ax``; seams as red lines.

    ``known_seconds`` (start, end) marks a known region with a green band along the top.
    """
    mel = log_mel(audio.float(), sample_rate).numpy() / math.log(10) * 10  # dB
    top = float(mel.max())
    seconds = audio.shape[-1] / sample_rate
    ax.imshow(
        mel,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, seconds, 0, mel.shape[0]),
        vmin=top - 80.0,
        vmax=top,
        interpolation="nearest",
    )
    for s in seams_seconds or []:
        ax.axvline(s, color="red", ls="--", lw=0.9)
    if known_seconds is not None:
        ax.axvspan(*known_seconds, ymin=0.94, ymax=1.0, color="C2", lw=0)
    ax.set_xlabel("seconds", fontsize=8)
    ax.set_ylabel("mel bin", fontsize=8)
    ax.tick_params(labelsize=7)


def mel_figure(
    audio: torch.Tensor,
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    seams_seconds: list[float] | None = None,
    title: str = "",
    known_seconds: tuple[float, float] | None = None,
) -> Path:
    """A PNG of the mel spectrogram of (T,) audio with its seams marked."""
    width = min(16.0, max(6.0, audio.shape[-1] / sample_rate * 0.5))
    fig, ax = plt.subplots(figsize=(width, 3.2))
    draw_mel(ax, audio, sample_rate, seams_seconds, known_seconds)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def cost_seam_figure(meta: dict[str, Any], path: str | Path) -> Path:
    """Seam score at each seam (left) and the run's cost figures (right), from a sidecar."""
    fig, (ax_seam, ax_cost) = plt.subplots(1, 2, figsize=(9, 3.0))
    seams = meta.get("seams_seconds") or []
    scores = [float("nan") if s is None else float(s) for s in meta.get("seam_scores") or []]
    if seams and scores:
        ax_seam.plot(seams[: len(scores)], scores, "o-", color="C3")
        ax_seam.axhline(1.0, color="0.5", lw=0.8, ls=":")  # = the median frame change
    ax_seam.set_xlabel("seam position (s)", fontsize=8)
    ax_seam.set_ylabel("seam score", fontsize=8)
    ax_seam.set_title("seam scores (lower = smoother)", fontsize=9)
    names = ["NFE", "net-audio-s / out-s", "wall s", "RTF"]
    keys = ["nfe", "network_audio_seconds_per_output_second", "wall_seconds", "real_time_factor"]
    values = [float(meta.get(k) or 0.0) for k in keys]
    bars = ax_cost.bar(np.arange(len(names)), values, color=["C0", "C1", "C2", "C4"])
    ax_cost.set_xticks(np.arange(len(names)), names, fontsize=7)
    ax_cost.set_yscale("symlog")
    ax_cost.bar_label(bars, [f"{v:.3g}" for v in values], fontsize=7)
    ax_cost.set_title(f"cost · {meta.get('extender', '')} · {meta.get('sampler', '')}", fontsize=9)
    for ax in (ax_seam, ax_cost):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
