"""Chroma (12 pitch classes) from an STFT, and harmonic continuity across a point.

Harmonic continuity (docs/evaluation.md): the cosine similarity of the average chroma of
the ``seconds`` before a seam and the ``seconds`` after it. A continuation that stays in the
key of its context scores like the real continuations of real music do.
"""

from __future__ import annotations

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.spectral import stft_power


def pitch_class_matrix(
    n_fft: int, sample_rate: int, fmin: float = 55.0, fmax: float = 4200.0
) -> torch.Tensor:
    """(12, n_fft // 2 + 1) 0/1 map from STFT bins to pitch classes (C = 0, A = 9).

    A bin belongs to the class of its nearest equal-tempered pitch (A4 = 440 Hz); bins
    outside [fmin, fmax] belong to none (too coarse below, mostly overtones above).
    """
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate).to(torch.float64)
    matrix = torch.zeros(12, len(freqs), dtype=torch.float64)
    inside = (freqs >= fmin) & (freqs <= fmax)
    midi = 69.0 + 12.0 * torch.log2(freqs[inside] / 440.0)
    classes = torch.remainder(torch.round(midi), 12).long()
    matrix[classes, torch.nonzero(inside).squeeze(1)] = 1.0
    return matrix


def chroma(
    wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, n_fft: int = 4096, hop: int = 1024
) -> torch.Tensor:
    """Average chroma of (..., T) audio -> (..., 12), unit L2 norm (zeros for silence).

    4096-point frames (5.4 Hz bins at 22.05 kHz) separate semitones down to about A1.
    """
    power = stft_power(wave, n_fft, hop)  # (..., F, frames)
    per_frame = torch.einsum("cf,...fn->...cn", pitch_class_matrix(n_fft, sample_rate), power)
    # Energy-compress each frame so a loud chord does not drown the rest of the excerpt.
    vec = per_frame.sqrt().mean(dim=-1)
    return vec / vec.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def chroma_similarity(a: torch.Tensor, b: torch.Tensor, sample_rate: int = SAMPLE_RATE):
    """Cosine similarity of the chroma of two (..., T) excerpts -> (...,), in [0, 1]."""
    return (chroma(a, sample_rate) * chroma(b, sample_rate)).sum(dim=-1)


def continuity_at(
    wave: torch.Tensor, position: int, seconds: float = 2.0, sample_rate: int = SAMPLE_RATE
) -> float:
    """Chroma cosine of the ``seconds`` before and after sample ``position`` of (T,) audio.

    Near the ends the windows shrink to what exists (at least 0.25 s each, else NaN).
    """
    span = int(round(seconds * sample_rate))
    before = wave[max(0, position - span) : position]
    after = wave[position : position + span]
    if min(len(before), len(after)) < sample_rate // 4:
        return float("nan")
    return float(chroma_similarity(before, after, sample_rate))
