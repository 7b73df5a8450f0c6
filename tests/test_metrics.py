"""Evaluation metrics on synthetic signals with known answers."""

from __future__ import annotations

import math

import torch

from pianodiff.measures.chroma import chroma, chroma_similarity, continuity_at
from pianodiff.measures.natural import (
    natural_seam_distribution,
    percentile_of,
    seam_scores_at,
)
from pianodiff.measures.spectral import log_spectral_distance, snr_db

SR = 22050


def sine(freq: float, seconds: float, amp: float = 0.3) -> torch.Tensor:
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def test_hard_cut_scores_far_above_a_continuous_tone():
    continuous = sine(220.0, 4.0)
    cut = torch.cat([sine(220.0, 2.0), sine(1500.0, 2.0, amp=0.2)])
    at = [2 * SR]
    smooth_score = seam_scores_at(continuous, at)[0]
    cut_score = seam_scores_at(cut, at)[0]
    assert cut_score > 5.0 * smooth_score, (cut_score, smooth_score)


def test_truth_filled_gap_has_zero_lsd_and_infinite_snr():
    truth = sine(330.0, 0.3) + 0.01 * torch.randn(
        int(0.3 * SR), generator=torch.Generator().manual_seed(0)
    )
    assert float(log_spectral_distance(truth, truth.clone())) == 0.0
    assert math.isinf(float(snr_db(truth, truth.clone())))
    # A wrong fill is measurably worse on both.
    wrong = sine(500.0, 0.3)
    assert float(log_spectral_distance(truth, wrong)) > 5.0
    assert float(snr_db(truth, wrong)) < 3.0


def test_snr_of_known_error_level():
    ref = sine(440.0, 1.0)
    est = ref * 0.9  # error = 0.1 · ref → SNR = 20 dB exactly
    assert abs(float(snr_db(ref, est)) - 20.0) < 1e-4  # float32 rounding of 0.9·ref


def test_identical_chroma_gives_similarity_one_and_unrelated_keys_less():
    chord = sine(220.0, 2.0) + sine(277.18, 2.0) + sine(329.63, 2.0)  # A major
    assert abs(float(chroma_similarity(chord, chord.clone())) - 1.0) < 1e-9
    vec = chroma(chord)
    # A, C# and E (classes 9, 1, 4) hold almost all of the energy.
    assert float(vec[[9, 1, 4]].pow(2).sum()) > 0.95
    other = sine(233.08, 2.0) + sine(311.13, 2.0)  # B♭ and E♭: no shared class
    assert float(chroma_similarity(chord, other)) < 0.3
    joined = torch.cat([chord, chord])
    assert continuity_at(joined, len(chord)) > 0.99


def test_natural_seam_distribution_of_a_stationary_tone_is_tight():
    gen = torch.Generator().manual_seed(0)
    dist = natural_seam_distribution([sine(440.0, 8.0)], cuts_per_file=40, generator=gen)
    assert dist.numel() == 40
    q10, q90 = torch.quantile(dist, torch.tensor([0.1, 0.9], dtype=dist.dtype)).tolist()
    assert q90 - q10 < 0.5 * float(dist.median()), dist
    # A hard cut into an unrelated tone lies far outside it.
    cut = torch.cat([sine(440.0, 2.0), sine(1500.0, 2.0, amp=0.2)])
    assert percentile_of(seam_scores_at(cut, [2 * SR])[0], dist) == 100.0
