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


def register() -> None:
    """Register the ``pd.*`` resolvers (idempotent)."""
    if not OmegaConf.has_resolver("pd.run_id"):
        OmegaConf.register_new_resolver("pd.run_id", run_id)
    if not OmegaConf.has_resolver("pd.abspath"):
        OmegaConf.register_new_resolver("pd.abspath", abspath)


register()
