"""DPM-Solver++(2M): the multistep second-order solver of the probability-flow ODE
(Lu et al. 2022, "DPM-Solver++", Alg. 2), in data prediction and log-SNR time.

With α = √ᾱ, σ = √(1 − ᾱ) and λ = log(α/σ), a move from level s to the next level t with
step h = λ_t − λ_s is

    x_t = (σ_t/σ_s)·x_s − α_t·(e^(−h) − 1)·D

where D = x̂0_s on the first move (first order: the DDIM η = 0 step) and, when the move
before ended at s from level r with h_r = λ_s − λ_r and ratio ρ = h_r/h,

    D = (1 + 1/(2ρ))·x̂0_s − 1/(2ρ)·x̂0_r.

The move onto the clean level (ᾱ = 1, λ = ∞) returns x̂0_s, as first-order solvers do.
One network evaluation per move; deterministic (η is not used, no noise is drawn). After
an inpainter's jump back up (RePaint) the history restarts at first order.
"""

from __future__ import annotations

import math

import torch

from pianodiff.diffusion.solvers.step import SolverStep


def log_snr(alpha_bar: float) -> float:
    """λ = log(α/σ) = ½·log(ᾱ / (1 − ᾱ)) of a noisy level (ᾱ < 1)."""
    return 0.5 * math.log(alpha_bar / (1.0 - alpha_bar))


def dpmpp_2m(step: SolverStep) -> torch.Tensor:
    """One DPM-Solver++(2M) move (module docstring); (B, T) -> (B, T)."""
    if step.alpha_bar_next >= 1.0:
        return step.x0_hat
    lam, lam_next = log_snr(step.alpha_bar), log_snr(step.alpha_bar_next)
    h = lam_next - lam
    d = step.x0_hat
    if step.previous is not None:
        rho = (lam - log_snr(step.previous.alpha_bar)) / h
        d = (1.0 + 0.5 / rho) * step.x0_hat - (0.5 / rho) * step.previous.x0_hat
    sigma_ratio = math.sqrt((1.0 - step.alpha_bar_next) / (1.0 - step.alpha_bar))
    return sigma_ratio * step.x_t - math.sqrt(step.alpha_bar_next) * math.expm1(-h) * d
