"""EDM-style preconditioning of an ε-network (Karras et al. 2022, §5 and Table 1).

A plain DiffWave must learn two things the noise level alone determines: at high noise the
answer is almost ε̂ = x_t / √(1 − ᾱ) (an identity through 20+ gated layers), and its input
is ~1 RMS there but only ~0.1 RMS (the piano's level) at low noise. Preconditioning moves
both into fixed per-step coefficients, so the network learns only what the noise level
cannot tell:

    ε̂(x_t, t) = c_skip(t) · x_t + c_out(t) · F(c_in(t) · x_t, t)

With a = √ᾱ_t, s = √(1 − ᾱ_t) and σ the data's RMS (x0 treated as white with variance σ²
for the coefficients only):

    v      = a²σ² + s²         the variance of x_t
    c_in   = 1 / √v            so F sees unit-variance input at every step
    c_skip = s / v             the linear MMSE estimate of ε from x_t
    c_out  = aσ / √v           the RMS of what that estimate misses, so F's target is unit-variance

This is the ε-prediction analogue of EDM's c_skip/c_out/c_in (CQT-Diff+ uses EDM's);
the sampler, the inpainters and the losses still see an ε-network. F is DiffWave, whose
zero-initialised output makes the untrained model exactly the linear MMSE estimate.
"""

from __future__ import annotations

import torch
from torch import nn

from pianodiff.diffusion.schedule import NoiseSchedule


def accepts_context(net: nn.Module) -> bool:
    """Whether ``net`` takes the known audio and its mask (``known=``, ``mask=``) as input."""
    return bool(getattr(net, "accepts_context", False))


class PreconditionedEps(nn.Module):
    """ε̂ = c_skip·x_t + c_out·F(c_in·x_t, t) for a network F (module docstring).

    Args:
        net: F, called as net(x (B, N), t (B,) float) -> (B, N).
        schedule: the training schedule (ᾱ per integer step; fractional steps interpolate
            √ᾱ linearly, as ``NoiseSchedule.fractional_step`` maps them).
        data_std: σ, the RMS of the training audio (piano14 normalised to −1 dBFS: ~0.1).
    """

    def __init__(self, net: nn.Module, schedule: NoiseSchedule, data_std: float = 0.1):
        super().__init__()
        if data_std <= 0:
            raise ValueError(f"data_std must be positive, got {data_std}")
        self.net = net
        self.data_std = float(data_std)
        self.register_buffer("sqrt_alpha_bar", schedule.alpha_bar.sqrt().float(), persistent=False)

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(c_in, c_skip, c_out), each (B,), at (fractional) steps t (B,)."""
        last = len(self.sqrt_alpha_bar) - 1
        t = t.float().clamp(0, last)
        lo = t.floor().long()
        hi = (lo + 1).clamp(max=last)
        w = t - lo.float()
        a = self.sqrt_alpha_bar[lo] * (1 - w) + self.sqrt_alpha_bar[hi] * w
        signal = (a * self.data_std) ** 2
        noise = 1.0 - a**2
        var = signal + noise
        return var.rsqrt(), noise.sqrt() / var, (signal / var).sqrt()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, **context: torch.Tensor) -> torch.Tensor:
        """x_t (B, N), t (B,) [, known/mask (B, N) for a context-conditioned F] -> ε̂ (B, N)."""
        c_in, c_skip, c_out = (c.to(x_t.dtype).unsqueeze(-1) for c in self.coefficients(t))
        return c_skip * x_t + c_out * self.net(c_in * x_t, t, **context)

    @property
    def accepts_context(self) -> bool:
        return accepts_context(self.net)

    @property
    def receptive_field(self) -> int:
        return self.net.receptive_field

    def num_parameters(self) -> int:
        return self.net.num_parameters()
