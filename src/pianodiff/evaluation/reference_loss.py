"""Reference losses for ε-prediction with an L1 loss: what a model must beat.

Training draws t, ε and forms x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε (Ho et al. 2020, eq. 4); the
loss is mean |ε̂ − ε|. Two estimators that know nothing about music give the floor a
model's held-out loss has to go below before it has learned anything beyond them:

predict zero
    ε̂ = 0. Its loss is E|ε| = √(2/π) ≈ 0.798 whatever the data.

Wiener filter from the average power spectrum
    Treat x0 as stationary Gaussian noise with the training set's power spectral density
    S(f) (per-sample units: white noise of variance σ² has S ≡ σ²) and ε as white with
    S_ε ≡ 1, independent of x0. Per frequency bin, with a = √ᾱ and s = √(1 − ᾱ),

        X_t(f) = a · X0(f) + s · E(f)
        Cov(E, X_t) = s · S_ε = s,      Var(X_t) = a² S(f) + s² = ᾱ S(f) + (1 − ᾱ)

    so the linear MMSE estimate of the noise is

        Ê(f) = s / (ᾱ S(f) + 1 − ᾱ) · X_t(f)
             = (1 − ᾱ) / (ᾱ S(f) + 1 − ᾱ) · X_t(f) / √(1 − ᾱ).

    At high noise (ᾱ → 0) it returns x_t / s = ε exactly; at low noise it removes only the
    bins where the signal spectrum is weak. A model whose loss equals this filter's has
    learned the average spectrum and nothing more (docs/training-on-cpu.md).

``reference_losses`` takes the very t and ε a validation step drew, so the training code
can log ``val/loss`` beside ``val/loss_wiener`` and ``val/loss_zero`` on the same draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from pianodiff.diffusion.process import q_sample
from pianodiff.diffusion.schedule import NoiseSchedule

PREDICT_ZERO_L1 = math.sqrt(2.0 / math.pi)  # E|ε| for ε ~ N(0, 1)


def average_power_spectrum(crops: Iterable[torch.Tensor], n_fft: int = 1024) -> torch.Tensor:
    """Welch estimate of the average power spectral density of audio crops.

    Args:
        crops: an iterable of (B, T) or (T,) tensors (e.g. a training dataloader's batches).
        n_fft: frame length; Hann frames with 50 % overlap.
    Returns:
        (n_fft // 2 + 1,) float64 PSD in per-sample units (white noise of variance σ² → σ²).
    """
    window = torch.hann_window(n_fft, dtype=torch.float64)
    total = torch.zeros(n_fft // 2 + 1, dtype=torch.float64)
    count = 0
    for crop in crops:
        x = crop.detach().to("cpu", torch.float64).reshape(-1, crop.shape[-1])
        if x.shape[-1] < n_fft:
            continue
        frames = x.unfold(-1, n_fft, n_fft // 2).reshape(-1, n_fft)
        power = torch.fft.rfft(frames * window).abs().pow(2) / window.pow(2).sum()
        total += power.sum(dim=0)
        count += power.shape[0]
    if count == 0:
        raise ValueError(f"no crop is at least n_fft={n_fft} samples long")
    return total / count


def wiener_eps(
    x_t: torch.Tensor, alpha_bar: torch.Tensor | float, spectrum: torch.Tensor
) -> torch.Tensor:
    """The linear-MMSE noise estimate (module docstring) of (B, T) x_t -> (B, T).

    Args:
        x_t: noisy audio (B, T).
        alpha_bar: ᾱ per item, shape (B,) or (B, 1), or a float.
        spectrum: (F,) PSD from ``average_power_spectrum`` (any n_fft; interpolated onto
            the crop's own frequency grid; the filter is applied over the whole crop).
    """
    length = x_t.shape[-1]
    ab = torch.as_tensor(alpha_bar, dtype=torch.float64, device=x_t.device).reshape(-1, 1)
    psd = _interpolate_spectrum(spectrum.to(x_t.device), length)  # (length // 2 + 1,)
    gain = (1.0 - ab).sqrt() / (ab * psd + (1.0 - ab))  # (B, F)
    spec = torch.fft.rfft(x_t.to(torch.float64), dim=-1)
    return torch.fft.irfft(spec * gain, n=length, dim=-1).to(x_t.dtype)


def _interpolate_spectrum(spectrum: torch.Tensor, length: int) -> torch.Tensor:
    """Linear interpolation of an (F,) PSD onto the rfft grid of ``length`` samples."""
    src = torch.linspace(0.0, 0.5, len(spectrum), dtype=torch.float64, device=spectrum.device)
    dst = torch.fft.rfftfreq(length, dtype=torch.float64, device=spectrum.device)
    idx = torch.searchsorted(src, dst).clamp(1, len(src) - 1)
    lo, hi = src[idx - 1], src[idx]
    w = (dst - lo) / (hi - lo)
    spec = spectrum.to(torch.float64)
    return spec[idx - 1] * (1.0 - w) + spec[idx] * w


def reference_losses(
    x0: torch.Tensor,
    eps: torch.Tensor,
    t: torch.Tensor,
    schedule: NoiseSchedule,
    spectrum: torch.Tensor,
    eps_pred: torch.Tensor | None = None,
) -> dict[str, float]:
    """L1 losses of "predict zero", the Wiener filter (and a model) on the same draws.

    Args:
        x0: clean crops (B, T); eps: the noise drawn (B, T); t: integer steps (B,).
        schedule: the training noise schedule (ᾱ_t = schedule.alpha_bar[t]).
        spectrum: (F,) training-set PSD from ``average_power_spectrum``.
        eps_pred: the model's ε̂ (B, T) for these draws, if any.
    Returns:
        {"zero": …, "wiener": …} plus {"model": …} when ``eps_pred`` is given.
    """
    ab = schedule.alpha_bar.to(x0.device)[t.long()].to(torch.float64).reshape(-1, 1)
    x_t = q_sample(x0.to(torch.float64), ab, eps.to(torch.float64))
    out = {
        "zero": float(eps.abs().mean()),
        "wiener": float((wiener_eps(x_t, ab, spectrum) - eps).abs().mean()),
    }
    if eps_pred is not None:
        out["model"] = float((eps_pred.float() - eps.float()).abs().mean())
    return out


def spread_steps(count: int, num_steps: int) -> torch.Tensor:
    """``count`` integer steps spread evenly over 0..num_steps−1 (stratified, deterministic)."""
    return (torch.arange(count) * num_steps) // max(count, 1)


@torch.no_grad()
def held_out_losses(
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    spectrum: torch.Tensor,
    net: torch.nn.Module | None = None,
    repeats: int = 4,
    seed: int = 0,
) -> dict[str, float]:
    """Reference (and model) losses on held-out crops (B, T), t spread over the schedule.

    Each crop is used ``repeats`` times; the B·repeats steps are spread evenly over
    0..T−1 and the noise comes from a seeded generator, so two calls on the same crops
    (e.g. two checkpoints) see identical draws.
    """
    batch, eps, t, x_t = held_out_draws(x0, schedule, repeats, seed)
    eps_pred = None if net is None else net(x_t, t.to(x0.dtype))
    return reference_losses(batch, eps, t, schedule, spectrum, eps_pred)


def held_out_draws(
    x0: torch.Tensor, schedule: NoiseSchedule, repeats: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed draws of ``held_out_losses``: (x0 repeated, ε, t, x_t), each with B·repeats
    rows; t spread evenly over 0..T−1, ε from a generator seeded by ``seed``."""
    batch = x0.repeat(repeats, 1)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    eps = torch.randn(batch.shape, generator=generator).to(x0.device, x0.dtype)
    t = spread_steps(batch.shape[0], schedule.num_steps).to(x0.device)
    ab = schedule.alpha_bar.to(x0.device)[t].to(x0.dtype).reshape(-1, 1)
    return batch, eps, t, q_sample(batch, ab, eps)
