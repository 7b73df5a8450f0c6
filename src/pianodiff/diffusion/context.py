"""The per-call context of one reverse process: known audio, its mask, the plan, the noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from pianodiff.diffusion.plan import SamplingPlan

if TYPE_CHECKING:
    from pianodiff.diffusion.guide import X0Guide


@dataclass
class InpaintContext:
    """What the hooks of one sampling call may read.

    Attributes:
        known: (B, T) the known audio (values outside the mask are ignored).
        mask: (B, T) 1.0 where audio is known, 0.0 where it is generated (all zeros:
            unconditional sampling).
        plan: the sampling plan being walked.
        generator: the random generator every noise draw uses (seeded determinism).
        clip_x0: clamp x̂0 to [−1, 1] (and make ε̂ consistent with it).
        guide: an optional x̂0 guide the loop applies after every estimate
            (``diffusion/guide.py``; e.g. harmony guidance); None leaves x̂0 as predicted.
    """

    known: torch.Tensor
    mask: torch.Tensor
    plan: SamplingPlan
    generator: torch.Generator | None = None
    clip_x0: bool = True
    guide: X0Guide | None = None

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like ``like``, drawn from the context's generator."""
        return torch.randn(
            like.shape, generator=self.generator, device=like.device, dtype=like.dtype
        )

    def alpha_bar(self, level: int) -> float:
        """ᾱ of the plan at ``level`` as a Python float."""
        return float(self.plan.alpha_bar[level])

    @property
    def has_known(self) -> bool:
        return bool(self.mask.any())
