"""Inference exports: EMA weights as safetensors plus the resolved model/diffusion config.

An export folder (``checkpoints/<name>/``) holds

    model.safetensors   the network's EMA weights (no pickle: safe to load from anyone)
    config.yaml         {model: {_target_: ...}, diffusion: {_target_: ...}, meta: {...}}

so that ``load_export`` rebuilds the exact network and noise schedule from the folder alone
(convention 10). Writes are atomic: a failed export never leaves a half folder behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file, save_file

from pianodiff.diffusion.schedule import NoiseSchedule

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""


@dataclass
class LoadedModel:
    """A network ready for inference with its schedule and the config it came from."""

    net: torch.nn.Module
    schedule: NoiseSchedule
    config: DictConfig
    path: Path

    @property
    def sample_rate(self) -> int:
        return int(self.config.get("meta", {}).get("sample_rate", 22050))


def export_model(
    directory: str | Path,
    state_dict: dict[str, torch.Tensor],
    model_config: dict[str, Any] | DictConfig,
    diffusion_config: dict[str, Any] | DictConfig,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``directory`` atomically (a temp folder beside it, then rename)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    config = OmegaConf.create(
        {
            "model": OmegaConf.to_container(OmegaConf.create(model_config), resolve=True),
            "diffusion": OmegaConf.to_container(OmegaConf.create(diffusion_config), resolve=True),
            "meta": meta or {},
        }
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=str(directory.parent)))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; the export is meant to be shared
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        OmegaConf.save(config, tmp / CONFIG_FILE)
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def load_export(directory: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the network and schedule of an export folder; weights load without pickle."""
    directory = Path(directory)
    weights, cfg_file = directory / WEIGHTS_FILE, directory / CONFIG_FILE
    if not weights.is_file() or not cfg_file.is_file():
        raise CheckpointError(
            f"{directory} is not a pianodiff export (needs {WEIGHTS_FILE} and {CONFIG_FILE}); "
            "export one with scripts/export_checkpoint.py or pass checkpoint=<folder>"
        )
    try:
        config = OmegaConf.load(cfg_file)
        net = instantiate(config.model)
        schedule = instantiate(config.diffusion)
    except Exception as err:
        raise CheckpointError(f"{cfg_file} does not describe a model: {err}") from err
    try:
        state = load_file(str(weights))
    except Exception as err:
        raise CheckpointError(f"{weights} is corrupt or not safetensors: {err}") from err
    missing, unexpected = _key_mismatch(net.state_dict(), state)
    if missing or unexpected:
        raise CheckpointError(
            f"{weights} is from another architecture than {cfg_file} describes "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors, e.g. "
            f"{(missing + unexpected)[0]})"
        )
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise CheckpointError(f"{weights} does not fit {cfg_file}: {first}") from err
    net.eval().requires_grad_(False).to(device)
    return LoadedModel(net=net, schedule=schedule, config=config, path=directory)


def _key_mismatch(expected: dict, got: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
