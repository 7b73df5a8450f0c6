"""The ground file: a recording whose tail the generated audio continues.

Any format soundfile reads; stereo is averaged to mono and other rates are resampled
(``audio.read_audio``). Refused, with one clear line: missing, not audio, empty, NaN or
infinite samples, and all silent (peak below -80 dBFS): a silent prompt gives the model
nothing to continue. A file shorter than the context is used whole as the context.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.audio import AudioError, read_audio

SILENCE_PEAK = 1e-4  # -80 dBFS


def load_ground(path: str | Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Read and check a ground file; returns mono (T,) float32 at ``sample_rate``."""
    audio = read_audio(path, sample_rate)
    if audio.numel() == 0:
        raise AudioError(f"{path} holds no samples; give a non-empty recording")
    if float(audio.abs().max()) < SILENCE_PEAK:
        raise AudioError(f"{path} is silent (peak below -80 dBFS); give a recording with sound")
    return audio
