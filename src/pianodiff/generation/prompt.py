"""The prompt file: a recording that the generated audio continues (kept whole).

Any format soundfile reads; stereo is averaged to mono and other rates are resampled
(``audio.read_audio``). Refused, with one clear line: missing, not audio, empty, NaN or
infinite samples, and all silent (peak below -80 dBFS): a silent prompt gives the model
nothing to continue. A file shorter than the context is used whole as the context.

Only the part that conditions the model needs decoding: ``tail_seconds`` reads just the
end of the file (``audio.read_audio_tail``), so a long recording costs its tail only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import AudioError, read_audio, read_audio_tail

SILENCE_PEAK = 1e-4  # -80 dBFS


def load_prompt_file(
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    tail_seconds: float | None = None,
    end_seconds: float | None = None,
) -> torch.Tensor:
    """Read and check a prompt file (its last ``tail_seconds`` only, when given);
    returns mono (T,) float32 at ``sample_rate``. ``end_seconds``: its last seconds, which
    condition the model, must not be silent either (``check_prompt_end``)."""
    if tail_seconds is None:
        audio = read_audio(path, sample_rate)
    else:
        audio = read_audio_tail(path, tail_seconds, sample_rate)
    check_prompt(audio, str(path))
    return check_prompt_end(audio, end_seconds, str(path), sample_rate)


def check_prompt_end(
    audio: torch.Tensor, seconds: float | None, name: str, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """``audio`` (T,) unless its last ``seconds`` (what the model hears) are silent: a
    recording that ends in silence gives the model nothing to continue either."""
    n = 0 if seconds is None else round(seconds * sample_rate)
    if 0 < n < len(audio):
        check_prompt(audio[-n:], f"the last {seconds:g} s of {name}")
    return audio


def check_prompt(audio: torch.Tensor, name: str = "the prompt") -> torch.Tensor:
    """``audio`` (T,) if it can be continued; ``AudioError`` when empty, non-finite or silent."""
    if audio.numel() == 0:
        raise AudioError(f"{name} holds no samples; give a non-empty recording")
    if not bool(torch.isfinite(audio).all()):
        raise AudioError(f"{name} contains NaN or infinite samples; re-export the audio")
    if float(audio.abs().max()) < SILENCE_PEAK:
        raise AudioError(f"{name} is silent (peak below -80 dBFS); give a recording with sound")
    return audio
