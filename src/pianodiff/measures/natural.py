"""The natural seam distribution: the seam statistic at random cut points of real audio.

A generated seam is invisible when its seam score lies inside the distribution of the
same statistic measured at arbitrary points of real music (docs/evaluation.md). Real
music has onsets, so a real "seam" sometimes scores high too; what matters is where a
generated seam falls in this distribution (its percentile), not the raw number.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.seam import seam_scores


def seam_scores_at(
    wave: torch.Tensor, positions: Sequence[int], sample_rate: int = SAMPLE_RATE
) -> list[float]:
    """The seam statistic of (T,) audio at each sample position.

    The same code (``measures.seam.seam_scores``) scores generated seams and natural
    cuts, so the two are comparable by construction.
    """
    return [float(s) for s in seam_scores(wave.reshape(-1), list(positions), sample_rate)]


def natural_seam_distribution(
    waves: Sequence[torch.Tensor],
    cuts_per_file: int = 50,
    excerpt_seconds: float = 4.0,
    generator: torch.Generator | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """Seam statistic at random cut points of real audio -> (N,) float64.

    Each cut is scored inside an excerpt of ``excerpt_seconds`` centred on it, the same
    length of audio a generated seam is judged in, so the median normaliser matches.
    """
    half = int(excerpt_seconds * sample_rate / 2)
    scores: list[float] = []
    for wave in waves:
        if wave.numel() < 2 * half + 1:
            continue
        centres = torch.randint(half, wave.numel() - half, (cuts_per_file,), generator=generator)
        for c in centres.tolist():
            scores.extend(seam_scores_at(wave[c - half : c + half], [half], sample_rate))
    values = torch.tensor(scores, dtype=torch.float64)
    return values[torch.isfinite(values)]


def percentile_of(value: float, distribution: torch.Tensor) -> float:
    """Share (in %) of the distribution at or below ``value``; NaN for an empty one."""
    if distribution.numel() == 0 or value != value:
        return float("nan")
    return 100.0 * float((distribution <= value).double().mean())
