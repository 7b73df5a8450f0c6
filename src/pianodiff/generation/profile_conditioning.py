"""Pitch-profile conditioning of a generation: the ``pitch_profile:`` settings of a request.

A profile-conditioned network (trained with ``experiment=piano14_ctx_profile``) is handed,
in every extension window, the pitch profile of the audio that exists before that window
(``measures/past_profile.py``), the same feature it was trained with, and can be pushed to
follow it harder with classifier-free guidance (``diffusion/profile_guidance.py``):

    use     auto: on when the network takes a profile, off otherwise; true: on (a network
            without the input is one error line); false: off
    scale   w, the guidance scale: 1 the conditional net, 0 the unconditional one, > 1
            follows the profile more strongly at a second network call per estimate
    source  prompt: the profile of the prompt's last seconds before the first window, in
            every window; all: of the audio before each window (the prompt and what was
            generated), exactly what training shows the net

The network decides how many seconds of audio and how many bins (12 or 128) its profile
has; a window with under 0.5 s of audio before it gets an all-zero profile (the
unconditional net).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pianodiff import SAMPLE_RATE
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.profile_guidance import (
    ProfileGuidedDenoiser,
    calls_per_estimate,
    profile_input,
)
from pianodiff.generation.errors import GenerationError
from pianodiff.measures.past_profile import MAX_PROFILE_SECONDS, past_profile

SOURCES = ("prompt", "all")
USES = ("auto", "true", "false")
MAX_SCALE = 20.0


class ProfileConditioningError(GenerationError):
    """A ``pitch_profile`` setting is out of range, or the network takes no profile."""


@dataclass(frozen=True)
class ActiveProfile:
    """Profile conditioning as it runs on one network.

    Attributes:
        bins: 12 or 128, the network's profile size.
        seconds: audio before a window that its profile covers.
        scale: w, the guidance scale.
        source: "prompt" or "all" (module docstring).
    """

    bins: int
    seconds: float
    scale: float
    source: str

    @property
    def calls_per_estimate(self) -> int:
        """Network calls per estimate: 2 when guidance needs the unconditional branch."""
        return calls_per_estimate(self.scale)

    def profile_before(
        self, audio: torch.Tensor, end: int, sample_rate: int = SAMPLE_RATE
    ) -> torch.Tensor:
        """(bins,) profile of the ``seconds`` of (T,) ``audio`` before sample ``end``."""
        return past_profile(audio, end, self.seconds, self.bins, sample_rate)

    def denoiser(self, base: Denoiser, profile: torch.Tensor) -> ProfileGuidedDenoiser:
        """``base`` handing ``profile`` (bins,) to the net, guided with ``scale``."""
        return ProfileGuidedDenoiser(base, profile, self.scale)


@dataclass(frozen=True)
class ProfileConditioning:
    """The ``pitch_profile:`` node of conf/generate.yaml (module docstring)."""

    use: Any = "auto"
    scale: float = 1.0
    source: str = "prompt"

    def __post_init__(self) -> None:
        use = self.use
        if isinstance(use, bool):
            use = "true" if use else "false"
        if use not in USES:
            raise ProfileConditioningError(
                f"pitch_profile.use must be auto, true or false, got {self.use!r}"
            )
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            scale = math.nan
        if isinstance(self.scale, bool) or not (math.isfinite(scale) and 0 <= scale <= MAX_SCALE):
            raise ProfileConditioningError(
                f"pitch_profile.scale must be a number from 0 to {MAX_SCALE:g} (1 = the "
                f"conditional net, 0 = the unconditional one), got {self.scale!r}"
            )
        if self.source not in SOURCES:
            raise ProfileConditioningError(
                f"pitch_profile.source must be one of {', '.join(SOURCES)}, got {self.source!r}"
            )
        object.__setattr__(self, "use", use)
        object.__setattr__(self, "scale", scale)

    @property
    def requested(self) -> bool:
        """Whether the settings ask for the profile explicitly (on, or a scale other than 1):
        a network without the input is then an error, not a quiet fallback."""
        return self.use == "true" or (self.use == "auto" and self.scale != 1.0)

    @property
    def may_run(self) -> bool:
        """Whether a profile may be used at all (it is never when ``use`` is false)."""
        return self.use != "false"

    def prompt_seconds_needed(self) -> float:
        """The most prompt audio before the first window a profile can read."""
        return MAX_PROFILE_SECONDS if self.may_run else 0.0

    def resolve(self, net: nn.Module) -> ActiveProfile | None:
        """How the settings run on ``net``: None when off; one error line when asked for on a
        network that takes no profile."""
        spec = profile_input(net)
        if spec is None:
            if self.requested:
                raise ProfileConditioningError(
                    f"pitch_profile.use={self.use} pitch_profile.scale={self.scale:g} needs a "
                    "profile-conditioned model (trained with experiment=piano14_ctx_profile); "
                    "this checkpoint's network takes no pitch profile: leave pitch_profile.use "
                    "at auto and pitch_profile.scale at 1, or use harmony.strength instead"
                )
            return None
        if self.use == "false":
            return None
        bins, seconds = spec
        return ActiveProfile(bins, seconds, self.scale, self.source)

    def record(self, ran: ActiveProfile | None = None) -> dict[str, Any]:
        """The settings as a sidecar records them, with what ran (bins and seconds)."""
        return {
            "use": self.use,
            "scale": self.scale,
            "source": self.source,
            "ran": ran is not None,
            "bins": ran.bins if ran else None,
            "seconds": ran.seconds if ran else None,
        }
