"""The pitch profile of the audio that exists before a point: a network's conditioning input.

A profile-conditioned network (``nets/multirate.py``, ``profile_bins`` > 0) is told "play in
these pitches" by a fixed feature of what was heard before its window: the pitch profile
(``measures/pitch_profile.py``) of the last ``seconds`` of audio that end where the window
(or, in training, the crop) begins. Nothing at or after that point reaches it, so training
sees exactly what generation sees: the past.

With ``bins`` = 12 the profile is folded to pitch classes (the key, octave-free); with 128
the MIDI profile is kept (the register too). Either way it is unit length, or all zeros when
there is too little past (under ``MIN_PAST_SECONDS``) or the past is silent: an all-zero
profile is what the network's unconditional branch sees.
"""

from __future__ import annotations

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.pitch_profile import MIDI_NOTES, fold_to_classes, pitch_profile

PROFILE_BINS = (12, MIDI_NOTES)
MIN_PAST_SECONDS = 0.5  # less past than this gives no profile (all zeros)
SILENT_RMS = 1e-4  # -80 dBFS: a past this quiet gives no profile
MAX_PROFILE_SECONDS = 30.0  # the longest past a network may ask for


def check_profile(bins: int, seconds: float) -> None:
    """Refuse a profile size other than 12 or 128 bins, or a past outside (0, 30] s."""
    if int(bins) not in PROFILE_BINS:
        raise ValueError(f"profile bins must be 12 (pitch classes) or 128 (MIDI), got {bins}")
    if not 0 < float(seconds) <= MAX_PROFILE_SECONDS:
        raise ValueError(f"profile seconds must be in (0, {MAX_PROFILE_SECONDS:g}], got {seconds}")


def past_profile(
    audio: torch.Tensor,
    end: int,
    seconds: float,
    bins: int = 12,
    sample_rate: int = SAMPLE_RATE,
) -> torch.Tensor:
    """Profile (bins,) float32 of the ``seconds`` of (T,) ``audio`` that end at sample ``end``.

    Only ``audio[max(0, end - seconds·rate) : end]`` is read. All zeros when that stretch is
    shorter than ``MIN_PAST_SECONDS`` or quieter than ``SILENT_RMS``.
    """
    check_profile(bins, seconds)
    end = max(0, min(int(end), audio.shape[-1]))
    start = max(0, end - round(seconds * sample_rate))
    past = audio.reshape(-1)[start:end].detach().float()
    if len(past) < round(MIN_PAST_SECONDS * sample_rate):
        return torch.zeros(int(bins), dtype=torch.float32, device=audio.device)
    if float(past.square().mean().sqrt()) < SILENT_RMS:
        return torch.zeros(int(bins), dtype=torch.float32, device=audio.device)
    with torch.no_grad():
        profile = pitch_profile(past, sample_rate)
        return fold_to_classes(profile) if int(bins) == 12 else profile


class PastProfile:
    """``past_profile`` with its settings bound: what the training data module calls.

    Args:
        seconds: how much audio before the point is profiled (the network's
            ``profile_seconds``).
        bins: 12 or 128 (the network's ``profile_bins``).
        sample_rate: the audio's rate in Hz.
    """

    def __init__(self, seconds: float = 6.0, bins: int = 12, sample_rate: int = SAMPLE_RATE):
        check_profile(bins, seconds)
        self.seconds, self.bins, self.sample_rate = float(seconds), int(bins), sample_rate

    def __call__(self, audio: torch.Tensor, end: int) -> torch.Tensor:
        """(T,) audio, a sample index -> (bins,) profile of the audio before ``end``."""
        return past_profile(audio, end, self.seconds, self.bins, self.sample_rate)
