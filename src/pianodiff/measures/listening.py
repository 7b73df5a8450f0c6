"""What a listener would notice in a sample, as the numbers training logs for its demos.

The demo callback (``training/callbacks/demo_sampling.py``) logs these for every demo
sample, and the studies score samples with the same function.
"""

from __future__ import annotations

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.notes import note_metrics
from pianodiff.measures.onsets import onset_rate
from pianodiff.measures.tonality import tonality


def sample_measures(audio: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """What a listener would notice in (T,) audio: ``tonality`` (≈ 0.56 noise, ≈ 0.03
    piano), ``onset_rate`` (per s) and, when the notes extra is installed, ``note_frames``
    and ``notes_per_s`` from the transcriber (without it one line says the measure is off)."""
    return {
        "tonality": tonality(audio, sample_rate),
        "onset_rate": onset_rate(audio, sample_rate),
        **note_metrics(audio, sample_rate),
    }
