"""The single reverse loop of pianodiff.

It walks the list of levels an inpainter asks for (down: one step of the plan's solver; up:
one forward re-noise step, for RePaint), calls the inpainter's hooks and the context's x̂0
guide (``diffusion/guide.py``) when it has one, and reports every
step to an optional callback. It holds no inpainting logic, no step rule of its own
(``diffusion/solvers/``) and no I/O.

Callback payload (one dict per move of the walk; tensors are the live ones, copy to keep):
    index        position in the walk (0-based)
    level        level before the move, next_level after it
    direction    "down" (denoise) or "up" (re-noise)
    t            the network step input at ``level`` (float)
    alpha_bar    ᾱ at ``level``
    x_t          (B, T) the sample at ``level`` after the inpainter's ``prepare``
    x0_hat       (B, T) the model's clean estimate, after the guide (down moves), else None
    known_mask   (B, T) the context's mask
    nfe          network evaluations so far
    plus whatever ``inpainter.describe(level, ctx)`` returns (e.g. {"lambda": 0.3})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.guide import apply_guide
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.process import forward_step
from pianodiff.diffusion.solvers.step import Estimate, SolverStep

StepCallback = Callable[[dict[str, Any]], None]


def check_walk(walk: list[int], num_levels: int) -> None:
    """A valid walk starts at S, ends at 0 and moves one level at a time within 0..S."""
    if not walk or walk[0] != num_levels or walk[-1] != 0:
        raise ValueError(f"a walk must start at level {num_levels} and end at 0")
    for a, b in zip(walk, walk[1:]):
        if abs(a - b) != 1 or not 0 <= b <= num_levels:
            raise ValueError(f"invalid move {a} -> {b} in walk")


def sample(
    denoiser: Denoiser,
    inpainter: Inpainter,
    ctx: InpaintContext,
    x_start: torch.Tensor | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Run the reverse process and return x0 of shape (B, T) like ``ctx.mask``.

    Args:
        denoiser: the network wrapper; its ``nfe`` counter advances by ``inpainter.nfe(plan)``.
        inpainter: the strategy (its walk and known-region hooks).
        ctx: known audio, mask, plan, generator.
        x_start: optional x_S (B, T); drawn from the generator as N(0, 1 − ᾱ_S) when None.
        callback: called after computing each move (see module docstring).
    """
    plan = ctx.plan
    walk = inpainter.walk(plan)
    check_walk(walk, plan.num_levels)
    if x_start is None:
        # x_S ~ q(x_S) ≈ N(0, 1 − ᾱ_S): audio has ~0.1 RMS, so √ᾱ_S·x0 adds little, and
        # schedules that stop short of pure noise (DiffWave's ᾱ_T ≈ 0.13–0.28) would see too
        # loud a start from N(0, 1).
        x = ctx.noise(ctx.mask) * (1.0 - ctx.alpha_bar(plan.num_levels)) ** 0.5
    else:
        x = x_start
    previous: Estimate | None = None
    for index, (level, nxt) in enumerate(zip(walk, walk[1:])):
        ab = ctx.alpha_bar(level)
        ab_next = ctx.alpha_bar(nxt)
        x0_hat = None
        if nxt == level - 1:
            x = inpainter.prepare(x, level, ctx)
            eps, x0_hat = inpainter.predict(denoiser, x, level, ctx)
            eps, x0_hat = apply_guide(x, eps, x0_hat, level, ctx)  # ctx.guide, if any
            step = SolverStep(x, eps, x0_hat, ab, ab_next, plan.eta, ctx.noise, previous)
            x_next = plan.solver(step)
            previous = Estimate(x0_hat, ab)
        else:
            x_next = forward_step(x, ab_next, ab, ctx.noise(x))
            previous = None
        if callback is not None:
            callback(
                {
                    "index": index,
                    "level": level,
                    "next_level": nxt,
                    "direction": "down" if nxt < level else "up",
                    "t": float(plan.net_steps[level]),
                    "alpha_bar": ab,
                    "x_t": x,
                    "x0_hat": x0_hat,
                    "known_mask": ctx.mask,
                    "nfe": denoiser.nfe,
                    **inpainter.describe(level, ctx),
                }
            )
        x = x_next
    return inpainter.finish(x, ctx)
