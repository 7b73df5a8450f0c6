"""Device choice and the network wrapper options (bf16 autocast, torch.compile).

``bf16`` is "auto" (measured once per host and model, ``generation/precision.py``), true or
false; :func:`denoiser_for` resolves it and returns the choice for the sidecar.
"""

from __future__ import annotations

import torch

from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.generation.bf16_cache import VerdictCache
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.precision import Bf16Choice, choose_bf16

DEVICE_CHOICES = "auto, cpu, cuda, cuda:<index> or mps"


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """``name`` if given (and available); "auto"/None picks cuda > mps > cpu."""
    if name is None or str(name) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = name if isinstance(name, torch.device) else torch.device(str(name))
    except (RuntimeError, ValueError, TypeError):
        raise GenerationError(f"device={name} is not a device; use {DEVICE_CHOICES}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise GenerationError(f"device={name} is not supported; use {DEVICE_CHOICES}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GenerationError(f"device={name} asked but CUDA is not available; use device=cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise GenerationError(
                f"device={name}: there are {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
            )
    if device.type == "mps" and not _mps_available():
        raise GenerationError(f"device={name} asked but MPS is not available; use device=cpu")
    return device


def make_denoiser(net: torch.nn.Module, bf16: bool = False, compile: bool = False) -> Denoiser:
    """Wrap ``net`` for sampling; bf16 runs it under autocast (relative error ~1e-2)."""
    if compile:
        net = torch.compile(net)
    return Denoiser(net, torch.bfloat16 if bf16 else None)


def denoiser_for(
    net: torch.nn.Module,
    device: torch.device,
    bf16: bool | str = "auto",
    compile: bool = False,
    net_step: float = 0.0,
    cache: VerdictCache | None = None,
) -> tuple[Denoiser, Bf16Choice]:
    """The denoiser of ``net`` with ``bf16`` resolved ("auto" measures the uncompiled net
    once per host and model at network step ``net_step``), and the choice made."""
    choice = choose_bf16(bf16, net, device, net_step, cache=cache)
    return make_denoiser(net, choice.use, compile), choice
