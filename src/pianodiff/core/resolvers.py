"""OmegaConf resolvers the shipped configs use; registered once on import.

${pd.abspath:PATH}   PATH made absolute against the current working directory
${pd.run_id:}        a per-process unique run name, "YYYY-MM-DD_HH-MM-SS_xxxx"; the random
                     suffix keeps two runs started in the same second apart
"""

from __future__ import annotations

import secrets
import time
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf


@cache
def run_id() -> str:
    """The same value for every call in this process (Hydra resolves run dirs repeatedly)."""
    return f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{secrets.token_hex(2)}"


def abspath(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 instructions (avx512_bf16 or amx_bf16)."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@cache
def precision(device: str = "auto") -> str:
    """Lightning ``precision`` for ``device``; see the module docstring."""
    import torch

    if device in ("gpu", "cuda") or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            return "bf16-mixed"  # trainer=gpu without a GPU fails later with Lightning's message
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_fast_bf16() else "32-true"


def register() -> None:
    """Register the ``pd.*`` resolvers (idempotent)."""
    if not OmegaConf.has_resolver("pd.run_id"):
        OmegaConf.register_new_resolver("pd.run_id", run_id)
    if not OmegaConf.has_resolver("pd.precision"):
        OmegaConf.register_new_resolver("pd.precision", precision)
    if not OmegaConf.has_resolver("pd.abspath"):
        OmegaConf.register_new_resolver("pd.abspath", abspath)


register()
