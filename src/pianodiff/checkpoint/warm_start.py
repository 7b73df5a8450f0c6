"""Warm starts: begin a new run from the weights of an earlier one (``init_from=``).

Unlike a resume (``ckpt_path=``), a warm start keeps only the network weights: the
optimiser, the LR schedule, the step counter and the data position start afresh, so any
training setting (learning rate, loss, crops, data) may change. The model architecture
must match. Sources:

- a Lightning training checkpoint (``.ckpt``): the raw weights go to the network and the
  EMA weights to the EMA (its update count restarts, so its warm-up runs again);
- an export folder (``checkpoints/<name>``): its EMA weights go to both.

One upgrade is allowed: a profile-conditioned net (``profile_bins`` > 0) may start from the
same net without a profile input (``model=framed16_ctx_profile`` from
``checkpoints/piano14-ctx``). Every saved weight is loaded strictly; only the new profile
layer, which no source holds, keeps its zero initialisation, so the warm-started net gives
the source's outputs exactly until it is trained.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from torch import nn

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.checkpoint.export import CheckpointError, load_export
from pianodiff.checkpoint.from_training import load_training_checkpoint

log = logging.getLogger(__name__)

PROFILE_KEYS = ("profile_bins", "profile_seconds")
PROFILE_WEIGHT = "profile_projection.weight"  # the one weight a profile input adds


def without_profile(config: Any) -> Any:
    """A model config with every network's profile settings left out."""
    if isinstance(config, dict):
        return {k: without_profile(v) for k, v in config.items() if k not in PROFILE_KEYS}
    if isinstance(config, list):
        return [without_profile(v) for v in config]
    return config


def profile_bins_of(config: Any) -> int:
    """The profile size a model config asks for (0: none), wherever its network sits."""
    if isinstance(config, dict):
        if "profile_bins" in config:
            return int(config["profile_bins"] or 0)
        return max((profile_bins_of(v) for v in config.values()), default=0)
    return 0


def adds_profile(saved: dict, wanted: dict) -> bool:
    """True when ``wanted`` is ``saved`` plus a profile input (which ``saved`` lacks)."""
    return (
        profile_bins_of(saved) == 0
        and profile_bins_of(wanted) > 0
        and without_profile(saved) == without_profile(wanted)
    )


def load_adding_profile(net: nn.Module, state: dict, source: str | Path) -> None:
    """Load ``state`` into ``net`` strictly except for the profile layer ``net`` adds."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    wrong = [k for k in missing if not k.endswith(PROFILE_WEIGHT)] + list(unexpected)
    if wrong or not missing:
        raise CheckpointError(
            f"init_from={source} does not fit this profile-conditioned model "
            f"(weights {', '.join(wrong) or 'for the profile layer'} differ); warm-start from "
            "the same model without a profile input, or drop init_from"
        )


def initial_weights(source: str | Path) -> tuple[dict, dict, dict]:
    """(net state, EMA-net state, model config) of a .ckpt file or an export folder."""
    path = Path(source)
    if path.is_dir():
        loaded = load_export(path)
        state = loaded.net.state_dict()
        return state, state, OmegaConf.to_container(loaded.config.model, resolve=True)
    ckpt = load_training_checkpoint(path)
    full = ckpt["state_dict"]
    net = {k[len("net.") :]: v for k, v in full.items() if k.startswith("net.")}
    ema = {k[len("ema.net.") :]: v for k, v in full.items() if k.startswith("ema.net.")}
    return net, ema or net, ckpt[CONFIG_KEY]["model"]


def warm_start(
    net: nn.Module,
    ema_net: nn.Module,
    source: str | Path,
    model_config: dict,
    weights: tuple[dict, dict, dict] | None = None,
) -> None:
    """Load ``source``'s weights into ``net`` and ``ema_net`` (same architecture required,
    or the same plus a profile input: module docstring); ``weights``: what
    :func:`initial_weights` already read from ``source``."""
    net_state, ema_state, saved_config = weights or initial_weights(source)
    if saved_config == model_config:
        net.load_state_dict(net_state)
        ema_net.load_state_dict(ema_state)
        return
    if not adds_profile(saved_config, model_config):
        raise CheckpointError(
            f"init_from={source} holds model {saved_config}, not {model_config}; "
            "warm-start with the same model=... or drop init_from"
        )
    load_adding_profile(net, net_state, source)
    load_adding_profile(ema_net, ema_state, source)
    log.info("init_from=%s: every weight loaded; the new profile layer starts at zero", source)
