"""Replacement ("do nothing", the original project's "normal" extension).

Before every denoising step the known region of x_t is replaced by a fresh forward sample
q(x_t | known) (Lugmayr et al. 2022, Alg. 1 line 5 without the resampling loop), and the
final output holds the known audio exactly. The cheapest baseline: one evaluation a level.
"""

from __future__ import annotations

import torch

from pianodiff.inpaint.base import InpaintContext, Inpainter, keep_known, paste_known


class Replacement(Inpainter):
    """Paste q_sample(known, t) into the known region at every step."""

    name = "replacement"

    def prepare(self, x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
        if not ctx.has_known:
            return x_t
        return paste_known(x_t, level, ctx)

    def finish(self, x0: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
        return keep_known(ctx.known, x0, ctx)

    @property
    def keeps_known_exactly(self) -> bool:
        return True
