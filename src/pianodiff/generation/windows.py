"""Masks and crossfades of one extension window (pure tensor functions, no sampling)."""

from __future__ import annotations

import math

import torch


def context_batch(
    tail: torch.Tensor, new: int, batch: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Known audio and mask for a window whose head is ``tail`` (C,) and ``new`` samples follow.

    Returns (known, mask), both (batch, C + new); mask is 1 on the first C samples.
    """
    c = tail.shape[-1]
    known = torch.zeros(batch, c + new, device=tail.device, dtype=torch.float32)
    known[:, :c] = tail.float()
    mask = torch.zeros_like(known)
    mask[:, :c] = 1.0
    return known, mask


def fade_in(length: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Raised-cosine ramp 0 → 1 of ``length`` samples (equal gain: the two signals agree)."""
    k = torch.arange(length, device=device, dtype=torch.float32)
    return 0.5 - 0.5 * torch.cos(math.pi * (k + 0.5) / max(length, 1))


def join(
    existing: torch.Tensor, window_out: torch.Tensor, context: int, crossfade: int
) -> torch.Tensor:
    """Append a window's new samples to ``existing``, crossfading just before the seam.

    Args:
        existing: (..., T) the audio so far; its last ``context`` samples were the window's
            known head.
        window_out: (..., context + new) the sampled window.
        context: known samples at the window's head.
        crossfade: samples before the seam blended from the existing audio into the
            window's own version of them (0 = a hard cut).

    Returns (..., T + new).
    """
    existing = existing.expand(*window_out.shape[:-1], existing.shape[-1])
    new_part = window_out[..., context:]
    xf = min(crossfade, context)
    if xf == 0:
        return torch.cat([existing, new_part], dim=-1)
    ramp = fade_in(xf, existing.device)
    old = existing[..., -xf:]
    mine = window_out[..., context - xf : context]
    blended = (1.0 - ramp) * old + ramp * mine
    return torch.cat([existing[..., :-xf], blended, new_part], dim=-1)
