"""x̂0 guidance: a hook that edits the model's clean estimate before the solver steps.

An :class:`X0Guide` is handed to the reverse loop in the :class:`InpaintContext`
(``ctx.guide``). After the inpainter's ``predict`` at every denoising move the loop calls
:func:`apply_guide`, which lets the guide move x̂0 and re-derives ε̂ from the moved x̂0 and
x_t, so every solver (DDIM at any η, DPM-Solver++, ancestral DDPM) and every extender sees a
consistent pair. The loop knows nothing of what a guide aims at: a guide is free to touch
only the generated region (``1 − ctx.mask``), to act only at some noise levels, or to return
x̂0 untouched (then nothing changes, bit for bit).

A guide costs no network evaluation; one that needs gradients of x̂0 enables them locally
(generation runs under ``torch.no_grad()``, not ``torch.inference_mode()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

from pianodiff.diffusion.process import eps_from_x0

if TYPE_CHECKING:
    from pianodiff.diffusion.context import InpaintContext


class X0Guide(Protocol):
    """Moves x̂0 (B, T) at ``level``; returns the same tensor object to leave it as it is."""

    def __call__(self, x0: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor: ...


def apply_guide(
    x_t: torch.Tensor, eps: torch.Tensor, x0: torch.Tensor, level: int, ctx: InpaintContext
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ε̂, x̂0) after ``ctx.guide`` at ``level``; all (B, T). Unchanged without a guide.

    A moved x̂0 is clamped to [−1, 1] when ``ctx.clip_x0`` is set, and ε̂ is re-derived from
    it, ε̂ = (x_t − √ᾱ·x̂0) / √(1 − ᾱ), so that the pair still describes x_t.
    """
    if ctx.guide is None:
        return eps, x0
    moved = ctx.guide(x0, level, ctx)
    if moved is x0:
        return eps, x0
    if ctx.clip_x0:
        moved = moved.clamp(-1.0, 1.0)
    return eps_from_x0(x_t, ctx.alpha_bar(level), moved), moved
