"""Tonality and onset rate on synthetic signals with known answers.

Tolerance for noise: i.i.d. exponential periodogram bins have flatness e^{−γ} = 0.5615;
the Hann window correlates neighbouring bins, which lifts the measured value to
0.565–0.573 for white/pink/brown noise (calibration in tonality.py); over 5 s (211
frames) the frame average varies by < 0.005 between seeds. ±0.03 around 0.56 covers both
with margin and is still ten times tighter than the gap to tonal audio (< 0.1).
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import tone

from pianodiff.measures.onsets import detect_onsets, onset_rate
from pianodiff.measures.tonality import NOISE_TONALITY, tonality

SR = 22050


def coloured_noise(seconds: float, exponent: float, seed: int = 0) -> torch.Tensor:
    """Noise with power ∝ f^(−exponent): 0 white, 1 pink, 2 brown."""
    n = int(seconds * SR)
    white = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    spec = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(n, 1.0 / SR)
    freqs[0] = freqs[1]
    x = torch.fft.irfft(spec / freqs ** (exponent / 2), n)
    return (0.1 * x / x.std()).float()


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0], ids=["white", "pink", "brown"])
def test_noise_of_any_colour_is_near_056(exponent):
    value = tonality(coloured_noise(5.0, exponent))
    assert abs(value - NOISE_TONALITY) < 0.03, value


def test_tonality_ignores_loudness():
    x = coloured_noise(3.0, 1.0, seed=3)
    assert abs(tonality(x) - tonality(0.01 * x)) < 1e-6


def test_sustained_sinusoids_are_far_lower():
    t = torch.arange(5 * SR, dtype=torch.float64) / SR
    chord = sum(torch.sin(2 * math.pi * f * t) for f in (220.0, 277.2, 330.0, 440.0))
    assert tonality((0.1 * chord).float()) < 0.1
    # the piano-like decaying chord of the test fixtures too
    assert tonality(torch.from_numpy(tone(5.0))) < 0.1


def test_silence_is_nan_and_silent_frames_are_skipped():
    assert math.isnan(tonality(torch.zeros(SR)))
    padded = torch.cat([torch.zeros(2 * SR), coloured_noise(3.0, 0.0)])
    assert abs(tonality(padded) - NOISE_TONALITY) < 0.03


def test_impulse_train_onsets_are_counted():
    seconds, period = 5.0, SR // 4
    x = torch.zeros(int(seconds * SR))
    x[::period] = 0.9
    x += 1e-3 * torch.randn(len(x), generator=torch.Generator().manual_seed(1))
    onsets = detect_onsets(x)
    true_times = torch.arange(0, len(x), period) / SR
    # Onsets within n_fft/2 of either end are not detectable (documented); all others are.
    inner = true_times[(true_times > 0.05) & (true_times < seconds - 0.05)]
    assert len(onsets) == len(inner)
    assert (onsets - inner.double()).abs().max() < 0.03  # within ~2 STFT hops
    assert abs(onset_rate(x) - len(inner) / seconds) < 1e-9


def test_steady_signals_have_no_onsets():
    assert onset_rate(coloured_noise(4.0, 1.0)) == 0.0
    t = torch.arange(4 * SR, dtype=torch.float64) / SR
    assert onset_rate((0.2 * torch.sin(2 * math.pi * 330.0 * t)).float()) == 0.0
    # one onset a second in the decaying-chord fixture (t = 1, 2, 3 s inside 4 s)
    assert len(detect_onsets(torch.from_numpy(tone(4.0)))) == 3
