"""The result figure: the mel spectrogram with the seams marked, and a chromagram below.

The spectrogram is the one every other view draws (``history/figures.draw_mel``: seams as
red dashed lines, the prompt as a green band along the top); the chromagram shows the 12
pitch classes over time (``measures/chroma.pitch_class_matrix`` on a 4096-point STFT), so a
continuation that leaves the key is visible at a glance. Written atomically as PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from pianodiff import SAMPLE_RATE  # noqa: E402
from pianodiff.history.figures import draw_mel, save_figure  # noqa: E402
from pianodiff.measures.chroma import pitch_class_matrix  # noqa: E402
from pianodiff.measures.spectral import stft_power  # noqa: E402

PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
CHROMA_FFT = 4096
CHROMA_HOP = 1024


def chromagram(audio: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(T,) audio -> (12, frames) chroma, each frame scaled to a peak of 1 (0 for silence)."""
    power = stft_power(audio.float(), CHROMA_FFT, CHROMA_HOP)  # (F, frames)
    per_frame = pitch_class_matrix(CHROMA_FFT, sample_rate) @ power  # (12, frames)
    compressed = per_frame.sqrt()
    return compressed / compressed.amax(dim=0, keepdim=True).clamp_min(1e-12)


def result_figure(
    audio: torch.Tensor,
    path: str | Path,
    seams_seconds: list[float],
    prompt_seconds: float = 0.0,
    title: str = "",
    sample_rate: int = SAMPLE_RATE,
) -> Path:
    """A PNG of (T,) audio: mel spectrogram (seams, prompt band) over its chromagram."""
    seconds = audio.shape[-1] / sample_rate
    width = min(16.0, max(7.0, seconds * 0.5))
    fig, (ax_mel, ax_chroma) = plt.subplots(
        2, 1, figsize=(width, 4.6), sharex=True, gridspec_kw={"height_ratios": [2.0, 1.0]}
    )
    known = (0.0, prompt_seconds) if prompt_seconds > 0 else None
    draw_mel(ax_mel, audio, sample_rate, seams_seconds, known)
    ax_mel.set_xlabel("")
    ax_mel.set_title(title, fontsize=9)
    chroma = chromagram(audio, sample_rate).numpy()
    ax_chroma.imshow(
        chroma,
        origin="lower",
        aspect="auto",
        cmap="Blues",
        extent=(0, seconds, -0.5, 11.5),
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    for s in seams_seconds:
        ax_chroma.axvline(s, color="red", ls="--", lw=0.9)
    ax_chroma.set_yticks(range(12), PITCH_CLASSES, fontsize=6)
    ax_chroma.set_ylabel("pitch class", fontsize=8)
    ax_chroma.set_xlabel("seconds (red: seams; green band: the prompt)", fontsize=8)
    ax_chroma.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
