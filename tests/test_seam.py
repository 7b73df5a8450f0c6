"""The seam score on real tones and hard splices."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import tone

from pianodiff.measures.seam import (
    HOP,
    frame_changes,
    seam_score,
    seam_scores,
)

SR = 22050


def test_frame_changes_shape():
    wav = torch.from_numpy(tone(1.0))
    changes = frame_changes(wav)
    frames = wav.shape[-1] // HOP + 1
    assert changes.shape == (frames - 1,)
    assert frame_changes(wav.expand(3, -1)).shape == (3, frames - 1)


def test_a_hard_splice_stands_out():
    t = torch.arange(2 * SR) / SR
    low = 0.3 * torch.sin(2 * math.pi * 220 * t)
    high = 0.3 * torch.sin(2 * math.pi * 1760 * t)
    spliced = torch.cat([low[:SR], high[SR:]])
    steady = low
    assert seam_score(spliced, SR) > 10 * seam_score(steady, SR)
    # Far from the splice the spliced file behaves like the steady one.
    assert seam_score(spliced, SR // 2) < 3.0


def test_scores_of_several_seams_and_edges():
    wav = torch.from_numpy(tone(3.0))
    scores = seam_scores(wav, [0, SR, 2 * SR, len(wav)])
    assert len(scores) == 4 and all(s >= 0 and math.isfinite(s) for s in scores)
    with pytest.raises(ValueError):
        seam_scores(wav.expand(2, -1), [SR])
