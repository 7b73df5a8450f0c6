"""Warm starts: begin a new run from the weights of an earlier one (``init_from=``).

Unlike a resume (``ckpt_path=``), a warm start keeps only the network weights: the
optimiser, the LR schedule, the step counter and the data position start afresh, so any
training setting (learning rate, loss, crops, data) may change. The model architecture
must match. Sources:

- a Lightning training checkpoint (``.ckpt``): the raw weights go to the network and the
  EMA weights to the EMA (its update count restarts, so its warm-up runs again);
- an export folder (``checkpoints/<name>``): its EMA weights go to both.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf
from torch import nn

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.checkpoint.export import CheckpointError, load_export
from pianodiff.checkpoint.from_training import load_training_checkpoint


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
    """Load ``source``'s weights into ``net`` and ``ema_net`` (same architecture required);
    ``weights``: what :func:`initial_weights` already read from ``source``."""
    net_state, ema_state, saved_config = weights or initial_weights(source)
    if saved_config != model_config:
        raise CheckpointError(
            f"init_from={source} holds model {saved_config}, not {model_config}; "
            "warm-start with the same model=... or drop init_from"
        )
    net.load_state_dict(net_state)
    ema_net.load_state_dict(ema_state)
