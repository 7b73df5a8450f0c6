"""Training noise schedules: β_t for t = 0..T-1 and everything derived from it.

Notation (see ``process.py``): α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s. Training draws integer
t ∈ {0..T−1}; the network receives t (a float) as its step input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NoiseSchedule:
    """A discrete noise schedule. ``betas`` has shape (T,), float64, values in (0, 1)."""

    betas: torch.Tensor

    def __post_init__(self) -> None:
        b = self.betas
        if b.ndim != 1 or len(b) == 0:
            raise ValueError("betas must be a non-empty 1-D tensor")
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("every beta must lie in (0, 1)")

    @property
    def num_steps(self) -> int:
        """T, the number of training steps."""
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        """α_t = 1 − β_t, shape (T,)."""
        return 1.0 - self.betas

    @property
    def alpha_bar(self) -> torch.Tensor:
        """ᾱ_t = Π_{s≤t} α_s, shape (T,)."""
        return torch.cumprod(self.alphas, dim=0)

    @property
    def alpha_bar_prev(self) -> torch.Tensor:
        """ᾱ_{t−1} with ᾱ_{−1} = 1, shape (T,)."""
        return torch.cat([torch.ones(1, dtype=self.betas.dtype), self.alpha_bar[:-1]])

    @property
    def posterior_variance(self) -> torch.Tensor:
        """β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t (Ho et al. 2020, eq. 7), shape (T,)."""
        return (1.0 - self.alpha_bar_prev) / (1.0 - self.alpha_bar) * self.betas

    def fractional_step(self, alpha_bar: torch.Tensor) -> torch.Tensor:
        """Map noise levels ᾱ onto (fractional) training steps.

        DiffWave's fast sampling (Kong et al. 2020, §4 "fast sampling"): an inference level
        whose √ᾱ lies between training steps t and t+1 gets the step t + fraction, found by
        linear interpolation of √ᾱ. Levels beyond either end are clamped to [0, T−1].
        """
        train = self.alpha_bar.sqrt()  # decreasing in t
        query = alpha_bar.to(train.dtype).sqrt()
        steps = torch.empty_like(query)
        for i, q in enumerate(query):
            if q >= train[0]:
                steps[i] = 0.0
            elif q <= train[-1]:
                steps[i] = self.num_steps - 1
            else:
                t = int(torch.nonzero(train >= q)[-1])  # train[t] >= q > train[t+1]
                steps[i] = t + (train[t] - q) / (train[t] - train[t + 1])
        return steps


def linear_schedule(num_steps: int = 200, beta_start: float = 1e-4, beta_end: float = 0.02):
    """β linear from ``beta_start`` to ``beta_end`` (DiffWave: T=200, 1e-4..0.02; T=50, ..0.05)."""
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    return NoiseSchedule(torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64))


def cosine_schedule(num_steps: int = 200, offset: float = 0.008, max_beta: float = 0.999):
    """Cosine schedule (Nichol & Dhariwal 2021, eq. 17): ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2)."""
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")

    def f(t: float) -> float:
        return math.cos((t / num_steps + offset) / (1 + offset) * math.pi / 2) ** 2

    betas = [min(1 - f(t + 1) / f(t), max_beta) for t in range(num_steps)]
    return NoiseSchedule(torch.tensor(betas, dtype=torch.float64))


def log_snr_schedule(num_steps: int = 50, snr_max_db: float = 50.0, snr_min_db: float = -10.0):
    """Steps evenly spaced in log-SNR, where SNR_t = ᾱ_t / (1 − ᾱ_t) for unit-variance data.

    Why: piano audio normalised to −1 dBFS peak has a standard deviation near 0.1, so its
    true SNR is 20 dB below ᾱ/(1 − ᾱ). On DiffWave's linear T=50 schedule only the first
    10 of 50 steps then lie above −8 dB and none above +20 dB; uniform t spends most training
    where the best answer is the average spectrum. Spacing steps evenly in log-SNR (the
    view of VDM and EDM) spends training and sampling evenly across the levels that matter.
    """
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    if snr_max_db <= snr_min_db:
        raise ValueError("snr_max_db must exceed snr_min_db")
    log_snr = torch.linspace(snr_max_db, snr_min_db, num_steps, dtype=torch.float64) / 10.0
    snr = 10.0**log_snr
    alpha_bar = snr / (1.0 + snr)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
    return NoiseSchedule(1.0 - alpha_bar / prev)
