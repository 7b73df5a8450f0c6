"""What ``pianodiff.evaluate`` evaluates: a checkpoint, or an untrained net as a control.

``checkpoint=<folder>`` loads an export (``pianodiff.checkpoint``); ``checkpoint=null``
takes the bundled model (``generation.paths.resolve_checkpoint``, as generate does);
``checkpoint=untrained:<size>`` builds an untrained DiffWave of ``conf/model/<size>.yaml``
with the bundled model's noise schedule, so "bundled model vs untrained network of the
same size" is one command. Samplers and extenders are built by the generation code from
the same YAML groups the generate CLI uses.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from pianodiff.checkpoint.export import (
    CheckpointError,
    LoadedModel,
    build_network,
    build_schedule,
    check_no_interpolation,
    load_export,
    plain_sections,
)
from pianodiff.core.errors import UserError
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.generation.configs import load_group_config
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.paths import resolve_checkpoint

UNTRAINED_PREFIX = "untrained:"
FALLBACK_DIFFUSION = "linear50"  # schedule of an untrained net when no model is bundled


class EvaluationError(UserError):
    """Bad evaluation input; the message names the problem and the fix."""


def load_model(spec: str | None, device: str = "cpu", seed: int = 0) -> LoadedModel:
    """A checkpoint folder, ``None`` (the bundled model) or ``untrained:<size>``."""
    try:
        if spec is not None and str(spec).startswith(UNTRAINED_PREFIX):
            return untrained_model(str(spec)[len(UNTRAINED_PREFIX) :], device, seed)
        return load_export(resolve_checkpoint(spec), device)
    except (CheckpointError, GenerationError) as err:
        raise EvaluationError(str(err)) from err


def untrained_model(size: str, device: str = "cpu", seed: int = 0) -> LoadedModel:
    """An untrained DiffWave of ``size`` with the bundled model's schedule (or linear50).

    Its output layer is zero-initialised (DiffWave's reference code), so it predicts ε̂ = 0
    and its samples are clipped noise: the weakest possible control. A preconditioned size
    (``small_precond``) predicts the linear MMSE estimate c_skip · x_t instead.
    """
    model_cfg = load_group_config("model", size)
    try:
        diffusion_cfg = OmegaConf.load(resolve_checkpoint(None) / "config.yaml").diffusion
        check_no_interpolation(OmegaConf.to_container(diffusion_cfg), "diffusion", "bundled")
    except GenerationError:
        diffusion_cfg = load_group_config("diffusion", FALLBACK_DIFFUSION)
    # One root, so that a model config interpolating ${diffusion} resolves.
    config = OmegaConf.create(
        {"model": model_cfg, "diffusion": diffusion_cfg, "meta": {"untrained": size}}
    )
    # The schedule comes from the bundled export: checked like any checkpoint config.
    model_plain, diffusion_plain = plain_sections(config, f"{UNTRAINED_PREFIX}{size}", trusted=True)
    torch.manual_seed(seed)
    net = build_network(model_plain).eval().requires_grad_(False).to(device)
    schedule: NoiseSchedule = build_schedule(diffusion_plain)
    return LoadedModel(net=net, schedule=schedule, config=config, path=Path(f"untrained-{size}"))
