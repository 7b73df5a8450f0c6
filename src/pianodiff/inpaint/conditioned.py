"""Conditioned: a context-conditioned network is handed the known audio itself.

The training-free extenders can only steer an unconditional network through x_t, and a
network whose receptive field or training never tied distant audio together ignores that
steering a fraction of a second past the seam. A context-conditioned net
(``nets/multirate.py``, ``context=True``) was trained with the known audio and its mask as
input channels, so at every step it sees the clean context directly. The known region of
x_t is still replaced by q_sample(known, t) before each step (as in training, where x_t is
noised everywhere), and the output keeps the known audio exactly. An empty mask is plain
unconditional sampling, so the same net makes the base window.
"""

from __future__ import annotations

import torch

from pianodiff.core.errors import UserError
from pianodiff.diffusion.preconditioning import accepts_context
from pianodiff.inpaint.base import Denoiser, InpaintContext, model_estimate
from pianodiff.inpaint.replacement import Replacement


class ContextNotAcceptedError(UserError):
    """The checkpoint's network takes no context; the message names the fix (one line, as
    every user error: the command line exits 2 on it, the web page shows it)."""


class Conditioned(Replacement):
    """Replacement's known region plus the clean context as network input."""

    name = "conditioned"

    def predict(
        self, denoiser: Denoiser, x_t: torch.Tensor, level: int, ctx: InpaintContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not accepts_context(denoiser.net):
            raise ContextNotAcceptedError(
                "extender=conditioned needs a context-conditioned model (trained with "
                "model=framed16_ctx); this checkpoint's network takes no context: choose "
                "extender=interpolation, repaint, replacement or guidance"
            )
        return model_estimate(denoiser, x_t, level, ctx, conditioned=True)
