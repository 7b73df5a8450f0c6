"""Checks of a generation request's plain values: one line naming the value and what is
allowed, before any work. Hydra passes ``overwrite=no`` through as the string "no", which
``bool()`` would read as true, so switches must be real booleans."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from pianodiff.generation.errors import GenerationError

MAX_CANDIDATES = 64  # one batch per window: more would only run out of memory
MAX_SEED = 2**63 - 1
MAX_SAMPLE_RATE = 768_000


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False``; anything else ("no", 1, "yes") is refused."""
    if isinstance(value, bool):
        return value
    raise GenerationError(f"{name} must be true or false, got {value!r}")


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return int(value)


def check_candidates(value: Any) -> int:
    """The number of candidates per window: a whole number in 1..MAX_CANDIDATES."""
    n = _whole(value)
    if n is None or not 1 <= n <= MAX_CANDIDATES:
        raise GenerationError(
            f"candidates must be a whole number from 1 to {MAX_CANDIDATES}, got {value!r}"
        )
    return n


def check_seed(value: Any) -> int | None:
    """A seed in 0..2**63-1, or None (a random seed is drawn and recorded)."""
    if value is None:
        return None
    n = _whole(value)
    if n is None or not 0 <= n <= MAX_SEED:
        raise GenerationError(
            f"seed must be a whole number from 0 to 2**63-1 (or null for a random one), "
            f"got {value!r}"
        )
    return n


def check_sample_rate(value: Any) -> int:
    """A sample rate in Hz: a whole number in 1..768000."""
    n = _whole(value)
    if n is None or not 1 <= n <= MAX_SAMPLE_RATE:
        raise GenerationError(
            f"sample_rate must be a whole number of Hz from 1 to {MAX_SAMPLE_RATE}, "
            f"got {value!r} (None: the model's own rate)"
        )
    return n


def check_switches(cfg: Any) -> None:
    """The on/off settings of a generate config that plugins read: ``progress``,
    ``wandb.enabled`` (booleans) and ``history`` (a boolean or a mapping of its options)."""
    check_flag("progress", cfg.get("progress", True))
    wandb = cfg.get("wandb")
    if wandb is not None:
        check_flag("wandb.enabled", wandb.get("enabled", False))
    history = cfg.get("history", False)
    if not isinstance(history, bool) and not OmegaConf.is_dict(history):
        raise GenerationError(
            f"history must be true, false or {{frames: N, fps: F, mp4: true}}, got {history!r}"
        )
