"""OmegaConf resolvers the shipped configs use; registered once on import.

${pd.abspath:PATH}   PATH made absolute against the current working directory
${pd.run_id:}        a per-process unique run name, "YYYY-MM-DD_HH-MM-SS_xxxx"; the random
                     suffix keeps two runs started in the same second apart
${pd.precision:DEV}  the trainer's precision for DEV (auto, cpu or gpu): on a GPU bf16-mixed
                     where the card has bf16, else 16-mixed; on a CPU "auto", which the
                     trainer settles by timing a training step in both precisions before the
                     Trainer is built (training/precision_probe.py): no CPU flag decides
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


@cache
def precision(device: str = "auto") -> str:
    """Lightning ``precision`` for ``device``, or "auto" on a CPU; see the module docstring."""
    import torch

    if device in ("gpu", "cuda") or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            return "bf16-mixed"  # trainer=gpu without a GPU fails later with Lightning's message
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "auto"  # measured by the trainer on this host (training/precision_probe.py)


def register() -> None:
    """Register the ``pd.*`` resolvers (idempotent)."""
    if not OmegaConf.has_resolver("pd.run_id"):
        OmegaConf.register_new_resolver("pd.run_id", run_id)
    if not OmegaConf.has_resolver("pd.precision"):
        OmegaConf.register_new_resolver("pd.precision", precision)
    if not OmegaConf.has_resolver("pd.abspath"):
        OmegaConf.register_new_resolver("pd.abspath", abspath)


register()
