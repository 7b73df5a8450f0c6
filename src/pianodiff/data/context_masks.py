"""Random known-region masks for training a context-conditioned network.

A context-conditioned net (``nets/multirate.py`` with ``context=True``) receives the known
audio and its mask beside x_t. It learns to use them only if training shows it masks like
the ones generation gives: a known prefix (continuing a window) and known audio on both
sides of a gap (filling one). The rest of the time the mask is empty, so the same net stays
an unconditional model for the base window.
"""

from __future__ import annotations

import torch


class ContextMasks:
    """Draws one mask per training item: 1.0 where the audio is given, 0.0 where it is not.

    Args:
        probability: share of items with a non-empty mask (the rest train unconditionally).
        gap_share: among those, the share with a gap (known both sides) instead of a prefix.
        prefix_fraction: (lo, hi) of the crop that a known prefix covers, drawn uniformly.
        gap_fraction: (lo, hi) of the crop that a gap covers; its position is uniform.
    """

    def __init__(
        self,
        probability: float = 0.5,
        gap_share: float = 0.25,
        prefix_fraction: tuple[float, float] = (0.1, 0.6),
        gap_fraction: tuple[float, float] = (0.1, 0.5),
    ):
        for name, (lo, hi) in (
            ("prefix_fraction", prefix_fraction),
            ("gap_fraction", gap_fraction),
        ):
            if not 0.0 < lo <= hi < 1.0:
                raise ValueError(f"{name} must satisfy 0 < lo <= hi < 1, got {(lo, hi)}")
        if not 0.0 <= probability <= 1.0 or not 0.0 <= gap_share <= 1.0:
            raise ValueError("probability and gap_share must lie in [0, 1]")
        self.probability = probability
        self.gap_share = gap_share
        self.prefix_fraction = tuple(prefix_fraction)
        self.gap_fraction = tuple(gap_fraction)

    def draw(
        self, batch: int, length: int, generator: torch.Generator, device: torch.device
    ) -> torch.Tensor:
        """Masks (batch, length) in float32, all drawn from ``generator`` (on the CPU)."""
        u = torch.rand(batch, 4, generator=generator)
        positions = torch.arange(length).unsqueeze(0)
        conditioned = u[:, 0] < self.probability
        is_gap = u[:, 1] < self.gap_share
        lo, hi = self.prefix_fraction
        prefix_end = ((lo + (hi - lo) * u[:, 2]) * length).long().unsqueeze(1)
        prefix = positions < prefix_end
        glo, ghi = self.gap_fraction
        gap_len = ((glo + (ghi - glo) * u[:, 2]) * length).long()
        gap_start = (u[:, 3] * (length - gap_len)).long()
        gap = (positions < gap_start.unsqueeze(1)) | (
            positions >= (gap_start + gap_len).unsqueeze(1)
        )
        mask = torch.where(is_gap.unsqueeze(1), gap, prefix) & conditioned.unsqueeze(1)
        return mask.float().to(device)
