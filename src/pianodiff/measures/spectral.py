"""Spectral distances for gap filling: log-spectral distance (LSD) and SNR.

The gap-filling protocol follows CQT-Diff+ (Moliner & Välimäki 2023): hide a centred gap
of real piano, fill it, and compare the filled gap with the truth by the LSD of their
STFT power spectra and by the waveform SNR. Both take (T,) or (B, T) tensors.
"""

from __future__ import annotations

import math

import torch

EPS_POWER = 1e-10  # power floor so log10 of silent bins is finite (−100 dB)


def stft_power(
    wave: torch.Tensor, n_fft: int = 2048, hop: int = 512, center: bool = True
) -> torch.Tensor:
    """|STFT|² with a Hann window: (..., T) -> (..., n_fft // 2 + 1, frames), float64.

    Signals shorter than ``n_fft`` are zero-padded to one frame.
    """
    x = wave.to(torch.float64)
    if x.shape[-1] < n_fft and not center:
        x = torch.nn.functional.pad(x, (0, n_fft - x.shape[-1]))
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    pad_mode = "reflect" if flat.shape[-1] > n_fft // 2 else "constant"
    spec = torch.stft(
        flat,
        n_fft,
        hop,
        window=torch.hann_window(n_fft, dtype=torch.float64, device=x.device),
        center=center,
        pad_mode=pad_mode,
        return_complex=True,
    )
    power = spec.abs().pow(2)
    return power.reshape(*lead, *power.shape[-2:])


def log_spectral_distance(
    reference: torch.Tensor, estimate: torch.Tensor, n_fft: int = 2048, hop: int = 512
) -> torch.Tensor:
    """LSD in dB: mean over frames of √(mean over bins of (10·log10 P_ref − 10·log10 P_est)²).

    Args:
        reference, estimate: (..., T) waveforms of the same shape.
    Returns:
        (...,) LSD; 0 when the two are identical.
    """
    if reference.shape != estimate.shape:
        raise ValueError(f"shape mismatch: {tuple(reference.shape)} vs {tuple(estimate.shape)}")
    ref = 10.0 * torch.log10(stft_power(reference, n_fft, hop) + EPS_POWER)
    est = 10.0 * torch.log10(stft_power(estimate, n_fft, hop) + EPS_POWER)
    per_frame = (ref - est).pow(2).mean(dim=-2).sqrt()
    return per_frame.mean(dim=-1)


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Waveform SNR in dB, 10·log10(Σ ref² / Σ (ref − est)²), over the last axis.

    Returns +inf where the estimate equals the reference exactly.
    """
    ref = reference.to(torch.float64)
    err = (ref - estimate.to(torch.float64)).pow(2).sum(-1)
    sig = ref.pow(2).sum(-1)
    out = 10.0 * torch.log10(sig / err)
    return torch.where(err == 0, torch.full_like(out, math.inf), out)
