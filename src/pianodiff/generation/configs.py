"""Generation settings from the shipped config groups (``conf/sampler``, ``conf/extender``).

The Python API composes ``conf/generate.yaml`` exactly as the command line does
(:func:`generate_settings`), so both sides always agree on every default; single group
nodes are read with :func:`load_group_config` where only one is wanted.
"""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pianodiff.conf import ConfigError, compose, group_choices, load_group
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.generation.errors import GenerationError


def load_group_config(group: str, name: str, **overrides: Any) -> DictConfig:
    """``conf/<group>/<name>.yaml`` with ``overrides`` merged in; lists the choices if unknown."""
    try:
        node = load_group(group, name)
    except ConfigError as err:
        raise GenerationError(str(err)) from None
    merged = OmegaConf.merge(node, overrides)
    assert isinstance(merged, DictConfig)
    return merged


def build_extender(extender: str | Inpainter, **overrides: Any) -> Inpainter:
    """An Inpainter from its config name (or pass one through)."""
    if isinstance(extender, Inpainter):
        return extender
    return instantiate(load_group_config("extender", extender, **overrides))


def build_plan(
    sampler: str | SamplingPlan, schedule: NoiseSchedule, **overrides: Any
) -> SamplingPlan:
    """A SamplingPlan from its config name over the checkpoint's ``schedule``."""
    if isinstance(sampler, SamplingPlan):
        return sampler
    return plan_from_config(load_group_config("sampler", sampler, **overrides), schedule)


def plan_from_config(cfg: DictConfig, schedule: NoiseSchedule) -> SamplingPlan:
    """Instantiate a ``conf/sampler`` node over ``schedule``; a bad value is one clear line."""
    try:
        return instantiate(cfg)(schedule=schedule)
    except Exception as err:
        cause = err.__cause__ or err
        raise GenerationError(
            f"sampler {cfg.get('_target_', '?').rsplit('.', 1)[-1]}: {cause} "
            f"(the checkpoint has T={schedule.num_steps})"
        ) from err


def generate_settings(
    groups: dict[str, str] | None = None,
    group_params: dict[str, dict[str, Any]] | None = None,
    values: dict[str, Any] | None = None,
) -> DictConfig:
    """``conf/generate.yaml`` composed as ``python -m pianodiff.generate`` would compose it.

    Args:
        groups: group choices, e.g. ``{"extender": "repaint", "sampler": "ddim"}``; an
            unknown option is one line listing the choices.
        group_params: values merged into a chosen group's node, e.g.
            ``{"sampler": {"num_steps": 10}}`` (Python values, no override syntax).
        values: top-level and dotted keys set after composing, e.g. ``{"seconds": 10,
            "harmony.strength": 2}``; set as given, checked by the pipeline.
    """
    overrides = []
    for group, name in (groups or {}).items():
        if name not in group_choices(group):
            choices = ", ".join(group_choices(group))
            raise GenerationError(f"unknown {group} '{name}'; choose one of: {choices}")
        overrides.append(f"{group}={name}")
    try:
        cfg = compose("generate", overrides)
    except ConfigError as err:
        raise GenerationError(str(err)) from None
    with_params = OmegaConf.merge(cfg, {k: v for k, v in (group_params or {}).items() if v})
    assert isinstance(with_params, DictConfig)
    OmegaConf.set_struct(with_params, False)  # set values as given; the pipeline checks them
    for key, value in (values or {}).items():
        OmegaConf.update(with_params, key, value, merge=False)
    return with_params
