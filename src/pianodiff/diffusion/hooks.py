"""The hook protocol the reverse loop calls, with defaults that mean plain sampling.

The loop (``diffusion/sampler.py``) owns the maths of stepping; a strategy that treats a
known region (the extenders of ``inpaint/``) subclasses :class:`Inpainter` and overrides:

    walk(plan)                    the levels to visit, S … 0 (may go back up: RePaint)
    prepare(x_t, level, ctx)      before a denoising step at ``level``: edit the known region
    predict(denoiser, x_t, level, ctx) -> (ε̂, x̂0)   the model's estimate (guidance overrides)
    finish(x0, ctx)               after the last step
    describe(level, ctx)          the strategy's own per-step parameters (e.g. λ) for logs
    effective_params(plan)        the parameters the walk on ``plan`` really uses (sidecars)

Contract (tested for every shipped extender on every sampler): output shape equals the
mask's; the same generator seed gives the same output; ``nfe(plan)`` equals the network
evaluations actually made; an empty mask means unconditional sampling; any plan works.
Hooks hold no I/O and no Lightning.
"""

from __future__ import annotations

from abc import ABC
from typing import Any, ClassVar

import torch

from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.process import eps_from_x0, x0_from_eps


def model_estimate(
    denoiser: Denoiser,
    x_t: torch.Tensor,
    level: int,
    ctx: InpaintContext,
    conditioned: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One network evaluation at ``level``: returns (ε̂, x̂0), both (B, T).

    ``conditioned`` also hands the known audio and its mask to the network (a
    context-conditioned net; ``inpaint/conditioned.py``).
    """
    alpha_bar = ctx.alpha_bar(level)
    context = {"known": ctx.known, "mask": ctx.mask} if conditioned else {}
    eps = denoiser(x_t, float(ctx.plan.net_steps[level]), **context)
    x0 = x0_from_eps(x_t, alpha_bar, eps)
    if ctx.clip_x0:
        # Clamping x̂0 and re-deriving ε̂ keeps the step consistent (DDIM's clip_sample).
        x0 = x0.clamp(-1.0, 1.0)
        eps = eps_from_x0(x_t, alpha_bar, x0)
    return eps, x0


class Inpainter(ABC):  # noqa: B024 - every hook has a sensible default
    """Base class; the defaults describe plain unconditional sampling."""

    name: ClassVar[str] = "base"
    forwards_per_step: ClassVar[int] = 1
    """Network forward evaluations per denoising step."""
    backwards_per_step: ClassVar[int] = 0
    """Backward passes through the network per denoising step (guidance)."""

    def walk(self, plan: SamplingPlan) -> list[int]:
        """Levels to visit, starting at S and ending at 0, moving ±1 each step."""
        return plan.descending()

    def nfe(self, plan: SamplingPlan) -> int:
        """Network forward evaluations of one run over ``plan`` (closed form of the walk)."""
        walk = self.walk(plan)
        downs = sum(1 for a, b in zip(walk, walk[1:]) if b == a - 1)
        return downs * self.forwards_per_step

    def forward_equivalents(self, nfe: float) -> float:
        """``nfe`` forward evaluations in forward-pass equivalents (a backward pass counts
        as two): the one cost formula of a run."""
        per_step = self.forwards_per_step + 2 * self.backwards_per_step
        return nfe / self.forwards_per_step * per_step

    def cost_in_forwards(self, plan: SamplingPlan) -> float:
        """Cost of one run over ``plan`` in forward-pass equivalents."""
        return self.forward_equivalents(self.nfe(plan))

    def prepare(self, x_t: torch.Tensor, level: int, ctx: InpaintContext) -> torch.Tensor:
        return x_t

    def predict(
        self, denoiser: Denoiser, x_t: torch.Tensor, level: int, ctx: InpaintContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return model_estimate(denoiser, x_t, level, ctx)

    def finish(self, x0: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
        return x0

    def describe(self, level: int, ctx: InpaintContext) -> dict[str, float]:
        return {}

    def effective_params(self, plan: SamplingPlan) -> dict[str, Any]:
        """The parameters the walk over ``plan`` actually runs with, where they differ from
        (or are derived from) the configured ones: what a sidecar must record."""
        return {}

    @property
    def keeps_known_exactly(self) -> bool:
        """True when the final output equals the known audio inside the mask."""
        return False
