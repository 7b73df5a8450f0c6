"""The seam score: how much a join stands out from the music's own frame-to-frame change.

Definition (docs/evaluation.md): on the log-mel spectrogram (80 mels, n_fft 1024, hop 256) take the
frame-to-frame change d_k = mean over mels |M[:, k+1] − M[:, k]|; the score of a seam at
sample s is the largest d_k among the transitions whose both frames lie within ±2 frames of
frame c = round(s / hop) (k = c−2 … c+1), divided by the median of d over the whole output.
Natural music scores a distribution of values at random cut points; a seam is invisible
when its score lies inside that distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import log_mel

N_MELS = 80
N_FFT = 1024
HOP = 256
RADIUS_FRAMES = 2


def frame_changes(waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Frame-to-frame change of the log-mel spectrogram: (T,) or (B, T) -> (F−1,) or (B, F−1)."""
    mel = log_mel(waveform, sample_rate, n_mels=N_MELS, n_fft=N_FFT, hop_length=HOP)
    return (mel[..., 1:] - mel[..., :-1]).abs().mean(dim=-2)


def seam_scores_from_changes(
    changes: torch.Tensor, seams: Sequence[int], radius: int = RADIUS_FRAMES
) -> torch.Tensor:
    """Scores of seams (sample positions) given ``frame_changes`` output (..., F−1).

    Returns (..., len(seams)).
    """
    median = changes.median(dim=-1, keepdim=True).values.clamp_min(1e-8)
    last = changes.shape[-1] - 1
    peaks = []
    for seam in seams:
        centre = round(seam / HOP)
        lo, hi = max(centre - radius, 0), min(centre + radius - 1, last)
        if lo > hi:  # a seam at the very edge: use the nearest transition
            lo = hi = min(max(centre, 0), last)
        peaks.append(changes[..., lo : hi + 1].amax(dim=-1, keepdim=True))
    if not peaks:
        return changes[..., :0]
    return torch.cat(peaks, dim=-1) / median


def seam_scores(
    waveform: torch.Tensor, seams: Sequence[int], sample_rate: int = SAMPLE_RATE
) -> list[float]:
    """Seam score of each seam (sample index) in a mono (T,) waveform."""
    if waveform.ndim != 1:
        raise ValueError("seam_scores expects mono (T,) audio")
    scores = seam_scores_from_changes(frame_changes(waveform, sample_rate), seams)
    return [float(v) for v in scores]


def seam_score(waveform: torch.Tensor, seam: int, sample_rate: int = SAMPLE_RATE) -> float:
    """The seam score of one seam at sample ``seam`` of a mono (T,) waveform."""
    return seam_scores(waveform, [seam], sample_rate)[0]
