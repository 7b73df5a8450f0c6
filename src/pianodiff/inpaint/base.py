"""What the extenders share: the hook protocol they implement and the known-region edits.

The protocol itself (:class:`Inpainter`, :class:`InpaintContext`, :class:`Denoiser`,
:func:`model_estimate`) lives in ``diffusion/`` beside the loop that calls it; this module
re-exports it for the extenders and adds the two edits of the known region they use.
"""

from __future__ import annotations

import torch

from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter, model_estimate
from pianodiff.diffusion.process import q_sample


def paste_known(x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
    """x_t with its known region replaced by q_sample(known, ᾱ_level); (B, T) -> (B, T)."""
    noisy_known = q_sample(ctx.known, ctx.alpha_bar(level), ctx.noise(x_t))
    return keep_known(noisy_known, x_t, ctx)


def keep_known(inside: torch.Tensor, outside: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
    """``inside`` where the mask is 1, ``outside`` where it is 0; (B, T) each -> (B, T).

    With ``inside = ctx.known`` this is data consistency (the output keeps the known audio).
    """
    return ctx.mask * inside + (1.0 - ctx.mask) * outside


__all__ = ["Denoiser", "InpaintContext", "Inpainter", "keep_known", "model_estimate", "paste_known"]
