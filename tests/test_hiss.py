"""The hiss floor (measures/hiss.py): noise scores high, clean partials score low."""

from __future__ import annotations

import math

import torch

from pianodiff.measures.hiss import frame_hiss, hiss_floor

SR = 22050


def _noise(seconds: float = 3.0, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(round(seconds * SR), generator=torch.Generator().manual_seed(seed))


def _tone(seconds: float = 3.0, f0: float = 220.0, harmonics: int = 5) -> torch.Tensor:
    """A decaying tone with a few harmonics, the partials 1/k as loud as the fundamental."""
    t = torch.arange(round(seconds * SR), dtype=torch.float64) / SR
    wave = sum(torch.sin(2 * math.pi * f0 * k * t) / k for k in range(1, harmonics + 1))
    return (0.3 * wave * torch.exp(-t / 2.0)).float()


def test_white_noise_scores_above_minus_20_db():
    assert hiss_floor(_noise()) > -20.0


def test_clean_tone_with_harmonics_scores_below_minus_60_db():
    assert hiss_floor(_tone()) < -60.0


def test_noise_under_a_tone_raises_the_floor_in_order():
    tone = _tone()
    clean, quiet, loud = (hiss_floor(tone + a * _noise(seed=1)) for a in (0.0, 0.01, 0.1))
    assert clean < quiet < loud


def test_quiet_frames_do_not_count():
    """A tone followed by near-silence (80 dB down) is judged on the tone alone."""
    tone = _tone(2.0)
    tail = 1e-4 * _noise(2.0, seed=2)
    hiss, active = frame_hiss(torch.cat([tone, tail]))
    assert bool(active[:10].all()) and not bool(active[-10:].any())
    assert hiss_floor(torch.cat([tone, tail])) < -60.0


def test_silence_and_too_short_audio_are_nan():
    assert math.isnan(hiss_floor(torch.zeros(SR)))
    assert math.isnan(hiss_floor(_noise(0.05)))
