"""Classifier-free guidance on a pitch profile: the denoiser of one profile-conditioned window.

A profile-conditioned network (``nets/multirate.py`` with ``profile_bins`` > 0) was trained
with the pitch profile of the audio before its crop, and with that profile dropped (all
zeros) part of the time, so one net holds a conditional and an unconditional model. With
guidance scale w (Ho & Salimans 2021, "Classifier-Free Diffusion Guidance"):

    ε̂ = ε̂_uncond + w · (ε̂_cond − ε̂_uncond)

w = 1 is the conditional net (one call per estimate), w = 0 the unconditional one (one
call), and any other w, e.g. w > 1 to follow the profile more strongly, costs a second
network call per estimate. Both calls go through the wrapped :class:`Denoiser`, so its
evaluation count (``nfe``) counts every one of them.

:class:`ProfileGuidedDenoiser` is a :class:`Denoiser` to every inpainter: they call it as
they call any denoiser (with or without ``known``/``mask``), and it adds ``profile=``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pianodiff.diffusion.denoiser import Denoiser


def profile_input(net: nn.Module) -> tuple[int, float] | None:
    """(profile bins, profile seconds) of a profile-conditioned ``net``; None for any other.

    Looks through wrappers (``PreconditionedEps.net``, a compiled module's ``_orig_mod``).
    """
    seen: nn.Module | None = net
    for _ in range(4):
        if seen is None:
            break
        bins = getattr(seen, "profile_bins", None)
        if bins is not None:
            return (int(bins), float(seen.profile_seconds)) if int(bins) > 0 else None
        inner = getattr(seen, "_orig_mod", None)
        seen = inner if inner is not None else getattr(seen, "net", None)
    return None


def calls_per_estimate(scale: float) -> int:
    """Network calls per estimate at guidance scale ``scale``: 1 at w = 0 or 1, else 2."""
    return 1 if scale in (0.0, 1.0) else 2


class ProfileGuidedDenoiser(Denoiser):
    """``base`` with a pitch profile handed to the network, and optional guidance.

    Args:
        base: the denoiser of a profile-conditioned net (its ``nfe`` counts every call).
        profile: (bins,) or (B, bins) profile of the audio before the window; all zeros is
            the unconditional net.
        scale: w, the classifier-free guidance scale (finite).
    """

    def __init__(self, base: Denoiser, profile: torch.Tensor, scale: float = 1.0):
        # No Denoiser.__init__: the network, precision and count are the base's.
        if not math.isfinite(float(scale)):
            raise ValueError(f"guidance scale must be finite, got {scale}")
        if profile.ndim not in (1, 2):
            raise ValueError(f"profile must be (bins,) or (B, bins), got {tuple(profile.shape)}")
        self.base = base
        self.profile = profile.detach().float()
        self.scale = float(scale)

    @property
    def net(self) -> nn.Module:  # type: ignore[override]
        return self.base.net

    @property
    def autocast_dtype(self) -> torch.dtype | None:  # type: ignore[override]
        return self.base.autocast_dtype

    @property
    def nfe(self) -> int:  # type: ignore[override]
        """Network calls made so far through the base denoiser (both branches counted)."""
        return self.base.nfe

    @property
    def calls_per_estimate(self) -> int:
        return calls_per_estimate(self.scale)

    def _profile(self, x_t: torch.Tensor) -> torch.Tensor:
        """The profile as (B, bins) on x_t's device."""
        profile = self.profile.to(x_t.device)
        if profile.ndim == 1:
            return profile.unsqueeze(0).expand(x_t.shape[0], -1)
        return profile

    def __call__(self, x_t: torch.Tensor, net_step: float, **context: torch.Tensor) -> torch.Tensor:
        """x_t (B, T), a scalar step [, known/mask (B, T)] -> guided ε̂ (B, T) in float32."""
        if self.scale == 0.0:
            return self.base(x_t, net_step, **context)
        cond = self.base(x_t, net_step, profile=self._profile(x_t), **context)
        if self.scale == 1.0:
            return cond
        uncond = self.base(x_t, net_step, **context)
        return uncond + self.scale * (cond - uncond)
