"""Replacement ("do nothing", the original project's "normal" extension).

Before every denoising step the known region of x_t is replaced by a fresh forward sample
q(x_t | known) (Lugmayr et al. 2022, Alg. 1 line 5 without the resampling loop), and the
final output holds the known audio exactly. The cheapest baseline: one evaluation a level.
"""

from __future__ import annotations

import torch

from pianodiff.diffusion.process import q_sample
from pianodiff.inpaint.base import InpaintContext, Inpainter


def paste_known(x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
    """x_t with its known region replaced by q_sample(known, ᾱ_level); (B, T) -> (B, T)."""
    noisy_known = q_sample(ctx.known, ctx.alpha_bar(level), ctx.noise(x_t))
    return ctx.mask * noisy_known + (1.0 - ctx.mask) * x_t


class Replacement(Inpainter):
    """Paste q_sample(known, t) into the known region at every step."""

    name = "replacement"

    def prepare(self, x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
        if not ctx.has_known:
            return x_t
        return paste_known(x_t, level, ctx)

    def finish(self, x0: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
        return ctx.mask * ctx.known + (1.0 - ctx.mask) * x0

    @property
    def keeps_known_exactly(self) -> bool:
        return True
