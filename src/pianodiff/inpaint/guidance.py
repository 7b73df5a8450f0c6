"""Reconstruction guidance with data consistency (Moliner & Välimäki, CQT-Diff / CQT-Diff+).

At each denoising step the network's clean estimate x̂0(x_t) is compared with the known
audio inside the mask, C = ‖mask · (x̂0 − known)‖², and the gradient ∇_{x_t} C — taken
*through the network* — corrects the estimate:

    x̂0 ← x̂0 − ξ′ σ² ∇C,   ξ′ = ξ √N / (σ ‖∇C‖)          (CQT-Diff, step-size normalisation)

with σ² = (1 − ᾱ)/ᾱ the noise level in the variance-exploding view of x_t/√ᾱ and N the
window length in samples, so the correction has RMS ξ·σ whatever the loss scale. Then
data consistency replaces the known region of x̂0 by the known audio (x̂0 ← A†y +
(I − A†A) x̂0), ε̂ is re-derived from the corrected x̂0, and the sampler takes its usual
step. The final output therefore holds the known audio exactly.

Autograd: generation must run under ``torch.no_grad()`` (not ``torch.inference_mode()``);
this inpainter re-enables gradients locally. It costs one backward pass per step.
"""

from __future__ import annotations

import math

import torch

from pianodiff.diffusion.process import eps_from_x0, x0_from_eps
from pianodiff.inpaint.base import (
    Denoiser,
    InpaintContext,
    Inpainter,
    keep_known,
    model_estimate,
)


class ReconstructionGuidance(Inpainter):
    """Gradient of the masked reconstruction error steers x̂0; data consistency pastes known.

    Args:
        xi: ξ, the normalised guidance step size (0 disables the gradient, keeping only
            data consistency).
    """

    name = "guidance"
    backwards_per_step = 1

    def __init__(self, xi: float = 0.2):
        if xi < 0:
            raise ValueError(f"guidance xi must be >= 0, got {xi}")
        self.xi = float(xi)

    def predict(
        self, denoiser: Denoiser, x_t: torch.Tensor, level: int, ctx: InpaintContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not ctx.has_known:
            return model_estimate(denoiser, x_t, level, ctx)
        if torch.is_inference_mode_enabled():
            raise RuntimeError(
                "guidance needs autograd: run generation under torch.no_grad(), "
                "not torch.inference_mode()"
            )
        if self.xi > 0:
            _, x0 = self._guided_estimate(denoiser, x_t, level, ctx)
            if ctx.clip_x0:
                x0 = x0.clamp(-1.0, 1.0)
        else:
            _, x0 = model_estimate(denoiser, x_t, level, ctx)  # clamps x̂0 when clip_x0
        x0 = keep_known(ctx.known, x0, ctx)  # data consistency
        return eps_from_x0(x_t, ctx.alpha_bar(level), x0), x0

    def _guided_estimate(
        self, denoiser: Denoiser, x_t: torch.Tensor, level: int, ctx: InpaintContext
    ) -> tuple[torch.Tensor, torch.Tensor]:
        alpha_bar = ctx.alpha_bar(level)
        with torch.enable_grad():
            x_in = x_t.detach().requires_grad_(True)
            eps = denoiser(x_in, float(ctx.plan.net_steps[level]))
            x0 = x0_from_eps(x_in, alpha_bar, eps)
            error = (ctx.mask * (x0 - ctx.known)).pow(2).sum()
            (grad,) = torch.autograd.grad(error, x_in)
        sigma = math.sqrt((1.0 - alpha_bar) / alpha_bar)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (grad.ndim - 1)))
        n = grad[0].numel()
        # x̂0 − ξ′σ²∇C with ξ′ = ξ√N/(σ‖∇C‖): a correction of RMS ξ·σ per batch item.
        x0 = x0.detach() - self.xi * sigma * math.sqrt(n) * grad / norm
        return eps.detach(), x0

    def finish(self, x0: torch.Tensor, ctx: InpaintContext) -> torch.Tensor:
        return keep_known(ctx.known, x0, ctx)

    def describe(self, level: int, ctx: InpaintContext) -> dict[str, float]:
        return {"xi": self.xi}

    @property
    def keeps_known_exactly(self) -> bool:
        return True
