"""Device choice and the network wrapper options (bf16 autocast, torch.compile)."""

from __future__ import annotations

import torch

from pianodiff.generation.errors import GenerationError
from pianodiff.inpaint.base import Denoiser


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` if given (and available); "auto"/None picks cuda > mps > cpu."""
    if name is None or str(name) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GenerationError(f"device={name} asked but CUDA is not available; use device=cpu")
    return device


def make_denoiser(net: torch.nn.Module, bf16: bool = False, compile: bool = False) -> Denoiser:
    """Wrap ``net`` for sampling; bf16 runs it under autocast (relative error ~1e-2)."""
    if compile:
        net = torch.compile(net)
    return Denoiser(net, torch.bfloat16 if bf16 else None)
