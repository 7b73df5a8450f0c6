"""DPM-Solver++(2M) SDE: the multistep second-order solver of the reverse *SDE* with η
(Lu et al. 2022, "DPM-Solver++", §4 and App. B; the form of k-diffusion's
``sample_dpmpp_2m_sde`` with the midpoint correction), in data prediction and log-SNR time.

With α = √ᾱ, σ = √(1 − ᾱ), λ = log(α/σ) and a move from level s to the next level t with
step h = λ_t − λ_s > 0, the first-order move is

    x_t = (σ_t/σ_s)·e^(−ηh)·x_s + α_t·(1 − e^(−(1+η)h))·x̂0_s + σ_t·√(1 − e^(−2ηh))·z

which at η = 1 is exactly the DDPM posterior q(x_t | x_s, x̂0) (the ancestral step), and at
η = 0 the DPM-Solver++ ODE step. When the move before ended at s from level r
(h_r = λ_s − λ_r, ρ = h_r/h) the second-order (midpoint) correction adds

    ½·α_t·(1 − e^(−(1+η)h))·(x̂0_s − x̂0_r)/ρ

so the deterministic part is the 2M extrapolation of x̂0, and the fresh noise of the
ancestral walk is kept, which corrects the earlier steps' errors of an imperfect network
(Karras et al. 2022, §4: stochasticity helps most where the network is weakest). The move
onto the clean level (ᾱ = 1) returns x̂0_s. One network evaluation per move; noise is drawn
on every move to a noisy level, so a seed gives the same draws for every η.
"""

from __future__ import annotations

import math

import torch

from pianodiff.diffusion.solvers.dpmpp_2m import log_snr
from pianodiff.diffusion.solvers.step import SolverStep


def dpmpp_2m_sde(step: SolverStep) -> torch.Tensor:
    """One DPM-Solver++(2M) SDE move with the plan's η (module docstring); (B, T) -> (B, T)."""
    if step.alpha_bar_next >= 1.0:
        return step.x0_hat
    eta = float(step.eta)
    lam, lam_next = log_snr(step.alpha_bar), log_snr(step.alpha_bar_next)
    h = lam_next - lam
    sigma, sigma_next = math.sqrt(1.0 - step.alpha_bar), math.sqrt(1.0 - step.alpha_bar_next)
    alpha_next = math.sqrt(step.alpha_bar_next)
    gain = -math.expm1(-(1.0 + eta) * h)  # 1 − e^(−(1+η)h)
    x = (sigma_next / sigma) * math.exp(-eta * h) * step.x_t + alpha_next * gain * step.x0_hat
    if step.previous is not None:
        rho = (lam - log_snr(step.previous.alpha_bar)) / h
        x = x + (0.5 / rho) * alpha_next * gain * (step.x0_hat - step.previous.x0_hat)
    z = step.noise(step.x_t)
    return x + sigma_next * math.sqrt(-math.expm1(-2.0 * eta * h)) * z
