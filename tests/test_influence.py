"""Prompt influence on signals whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import SR, tone

from pianodiff.evaluation.influence import (
    continuation_correlations,
    correlation,
    influence_row,
    own_prompt_closer,
    ranges,
)

A_MINOR = (220.0, 261.6, 329.6)
F_SHARP = (185.0, 233.1, 277.2)


def chord(freqs, seconds=2.0) -> torch.Tensor:
    return torch.from_numpy(tone(seconds, freqs))


def noise(seconds: float, seed: int) -> torch.Tensor:
    return torch.randn(int(seconds * SR), generator=torch.Generator().manual_seed(seed))


def test_the_same_continuation_twice_correlates_one_everywhere():
    new = noise(2.0, 0)
    corr = continuation_correlations(new, new.clone())
    assert list(corr) == ["corr_0-0.1s", "corr_0.1-0.5s", "corr_0.5s-end"]
    assert all(v == pytest.approx(1.0) for v in corr.values())


def test_a_prompt_that_reaches_only_the_first_tenth_of_a_second():
    # identical up to 0.1 s after the cut, independent after it
    head = noise(0.1, 1)
    a = torch.cat([head, noise(1.9, 2)])
    b = torch.cat([head, noise(1.9, 3)])
    corr = continuation_correlations(a, b)
    assert corr["corr_0-0.1s"] == pytest.approx(1.0)
    assert abs(corr["corr_0.1-0.5s"]) < 0.05 and abs(corr["corr_0.5s-end"]) < 0.03


def test_correlation_ignores_scale_and_offset_and_flags_constants():
    x = noise(0.5, 4)
    assert correlation(x, 0.1 * x + 0.3) == pytest.approx(1.0)
    assert correlation(x, -x) == pytest.approx(-1.0)
    assert math.isnan(correlation(x, torch.zeros_like(x)))
    short = continuation_correlations(noise(0.3, 5), noise(0.3, 6))
    assert math.isnan(short["corr_0.5s-end"]), "a range past the end is undefined"


def test_each_continuation_keeping_its_own_harmony_scores_one():
    prompt_a, prompt_b = chord(A_MINOR), chord(F_SHARP)
    assert own_prompt_closer(chord(A_MINOR, 1.0), chord(F_SHARP, 1.0), prompt_a, prompt_b) == (
        True,
        True,
    )
    row = influence_row(chord(A_MINOR, 1.0), chord(F_SHARP, 1.0), prompt_a, prompt_b)
    assert row["own_prompt_closer"] == 1.0
    swapped = influence_row(chord(F_SHARP, 1.0), chord(A_MINOR, 1.0), prompt_a, prompt_b)
    assert swapped["own_prompt_closer"] == 0.0


def test_identical_continuations_are_chance_level():
    """Ignoring the prompt: the one shared continuation is closer to exactly one prompt."""
    same = chord((246.9, 311.1), 1.0)
    row = influence_row(same, same.clone(), chord(A_MINOR), chord(F_SHARP))
    assert row["own_prompt_closer"] == 0.5
    assert row["corr_0.5s-end"] == pytest.approx(1.0)


def test_range_edges_are_validated():
    assert ranges([0.2]) == [(0.0, 0.2), (0.2, None)]
    with pytest.raises(ValueError, match="increasing"):
        ranges([0.5, 0.1])
