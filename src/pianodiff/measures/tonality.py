"""Tonality: are there notes in this audio, or is it noise with a spectral shape?

Per frame, the periodogram P(f) is divided by its median-smoothed envelope E(f) (a running
median over ``median_bins`` bins), and the spectral flatness of R = P / E between 50 Hz and
5 kHz is taken: geometric mean(R) / arithmetic mean(R). The frame values are averaged over
the non-silent frames.

Why it works: for noise of any smooth colour the envelope removes the colour and the
periodogram bins are exponentially distributed around it, whose flatness is
exp(E[ln X]) / E[X] = e^{−γ} ≈ 0.561 (γ: Euler's constant) — independent of the colour.
Tonal audio puts most energy in a few harmonic peaks far above the envelope, so the
arithmetic mean is large while the geometric mean stays at the floor: flatness ≪ 0.56.

Calibration (n_fft 2048, hop 512, Hann, 31-bin median ≈ 340 Hz, 5 s at 22.05 kHz, measured):
white 0.565, pink 0.573, brown 0.571, blue 0.572; four sustained sinusoids 0.007. The small
excess over e^{−γ} comes from the Hann window correlating neighbouring bins.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pianodiff import SAMPLE_RATE
from pianodiff.measures.spectral import stft_power

NOISE_TONALITY = 0.5615  # e^{−γ}: the flatness of i.i.d. exponential periodogram bins


def running_median(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over a centred window of ``width`` (odd) along the last axis, edges replicated."""
    pad = width // 2
    lead = x.shape[:-1]
    flat = x.reshape(-1, 1, x.shape[-1])
    padded = F.pad(flat, (pad, pad), mode="replicate").squeeze(1)
    return padded.unfold(-1, width, 1).median(dim=-1).values.reshape(*lead, x.shape[-1])


def frame_tonality(
    wave: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 2048,
    hop: int = 512,
    median_bins: int = 31,
    fmin: float = 50.0,
    fmax: float = 5000.0,
    silence_db: float = -50.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame flatness and a non-silent mask of (T,) audio -> ((frames,), (frames,) bool).

    A frame is silent when its power is more than ``silence_db`` below the loudest frame's
    (or the whole signal is digital silence).
    """
    power = stft_power(wave.reshape(-1), n_fft, hop, center=False).T  # (frames, F)
    envelope = running_median(power, median_bins)
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate).to(power.dtype)
    band = (freqs >= fmin) & (freqs <= fmax)
    ratio = (power / envelope.clamp_min(1e-30))[:, band].clamp_min(1e-30)
    flatness = ratio.log().mean(dim=-1).exp() / ratio.mean(dim=-1)
    frame_power = power[:, band].sum(dim=-1)
    loudest = frame_power.max()
    active = (frame_power > loudest * 10.0 ** (silence_db / 10.0)) & (frame_power > 1e-20)
    return flatness, active


def tonality(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, **kwargs) -> float:
    """Mean flatness over non-silent frames of (T,) audio: ≈ 0.56 noise, ≈ 0.03 piano.

    Returns NaN for silent audio. Keyword arguments go to ``frame_tonality``.
    """
    flatness, active = frame_tonality(wave, sample_rate, **kwargs)
    if not bool(active.any()):
        return float("nan")
    return float(flatness[active].mean())
