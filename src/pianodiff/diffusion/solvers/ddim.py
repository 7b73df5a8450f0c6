"""The generalised reverse step of DDIM with η (Song et al. 2021, eq. 12 and 16).

η = 1 with σ² = β̃ is the DDPM ancestral step; η = 0 is deterministic DDIM. Noise is drawn
on every move, whatever η, so a seed gives the same draws for every η.
"""

from __future__ import annotations

import torch

from pianodiff.diffusion.process import ddim_sigma, reverse_step
from pianodiff.diffusion.solvers.step import SolverStep


def ddim(step: SolverStep) -> torch.Tensor:
    """x_{next} = √ᾱ_next·x̂0 + √(1 − ᾱ_next − σ²)·ε̂ + σ·z; (B, T) -> (B, T)."""
    sigma = ddim_sigma(step.alpha_bar, step.alpha_bar_next, step.eta)
    return reverse_step(step.x0_hat, step.eps, step.alpha_bar_next, sigma, step.noise(step.x_t))
