"""The forward and reverse diffusion process as small pure functions.

Notation used across pianodiff (Ho et al. 2020; Song et al. 2021, DDIM):

    x0          clean audio, shape (B, T)
    x_t         noisy audio at noise level t, shape (B, T)
    eps         standard normal noise, shape (B, T)
    beta        β_t, the per-step noise variance
    alpha       α_t = 1 − β_t
    alpha_bar   ᾱ_t = Π α_s, so that  x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · eps   (Ho eq. 4)

Scalars such as ``alpha_bar`` are Python floats or tensors broadcastable to (B, T)
(e.g. shape (B, 1)).
"""

from __future__ import annotations

import torch

Scalar = float | torch.Tensor


def _sqrt(v: Scalar) -> Scalar:
    return v**0.5 if isinstance(v, float) else v.sqrt()


def q_sample(x0: torch.Tensor, alpha_bar: Scalar, eps: torch.Tensor) -> torch.Tensor:
    """Draw x_t ~ q(x_t | x0) = N(√ᾱ x0, (1 − ᾱ) I) given the noise ``eps`` (Ho eq. 4)."""
    return _sqrt(alpha_bar) * x0 + _sqrt(1.0 - alpha_bar) * eps


def x0_from_eps(x_t: torch.Tensor, alpha_bar: Scalar, eps: torch.Tensor) -> torch.Tensor:
    """x̂0 = (x_t − √(1 − ᾱ) ε̂) / √ᾱ, the inverse of ``q_sample`` (Ho eq. 15)."""
    return (x_t - _sqrt(1.0 - alpha_bar) * eps) / _sqrt(alpha_bar)


def eps_from_x0(x_t: torch.Tensor, alpha_bar: Scalar, x0: torch.Tensor) -> torch.Tensor:
    """ε = (x_t − √ᾱ x0) / √(1 − ᾱ): the noise consistent with x_t and a given x0."""
    return (x_t - _sqrt(alpha_bar) * x0) / _sqrt(1.0 - alpha_bar)


def ddim_sigma(alpha_bar: Scalar, alpha_bar_prev: Scalar, eta: float) -> Scalar:
    """σ of one generalised reverse step (Song et al. 2021, eq. 16).

    η = 1 gives σ² = β̃, the DDPM ancestral step; η = 0 gives deterministic DDIM.
    """
    var = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev)
    return eta * _sqrt(var)


def reverse_step(
    x0_hat: torch.Tensor,
    eps_hat: torch.Tensor,
    alpha_bar_prev: Scalar,
    sigma: Scalar,
    noise: torch.Tensor,
) -> torch.Tensor:
    """One reverse step x_t → x_{t−1} (Song et al. 2021, eq. 12).

    x_{t−1} = √ᾱ_prev · x̂0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z. With σ² = β̃ this is the DDPM
    ancestral step; at ᾱ_prev = 1 it returns x̂0.
    """
    direction = 1.0 - alpha_bar_prev - sigma**2
    # Rounding can push 1 − ᾱ_prev − σ² a hair below zero at the last step.
    direction = max(direction, 0.0) if isinstance(direction, float) else direction.clamp_min(0.0)
    return _sqrt(alpha_bar_prev) * x0_hat + _sqrt(direction) * eps_hat + sigma * noise


def forward_step(
    x_prev: torch.Tensor, alpha_bar: Scalar, alpha_bar_prev: Scalar, noise: torch.Tensor
) -> torch.Tensor:
    """One forward re-noise step x_{t−1} → x_t ~ q(x_t | x_{t−1}) = N(√α x, β I) (Ho eq. 2).

    Used by RePaint's jumps back up the chain; α = ᾱ_t / ᾱ_{t−1}.
    """
    alpha = alpha_bar / alpha_bar_prev
    return _sqrt(alpha) * x_prev + _sqrt(1.0 - alpha) * noise
