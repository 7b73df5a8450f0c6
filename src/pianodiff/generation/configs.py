"""The shipped config groups (``conf/sampler``, ``conf/extender``) by name, without Hydra.

The Python API builds samplers and extenders from the same YAML files the CLI composes,
so both sides always agree on defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import pianodiff
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.generation.errors import GenerationError

CONF_DIR = Path(pianodiff.__file__).resolve().parent / "conf"


def group_choices(group: str) -> list[str]:
    """The option names of a config group, e.g. group_choices("extender")."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def generate_default(group: str) -> str:
    """The option ``conf/generate.yaml`` picks for ``group`` (e.g. "sampler" -> "dpmpp_2m"),
    so the Python API and the benchmarks follow the CLI's defaults."""
    for entry in OmegaConf.to_container(OmegaConf.load(CONF_DIR / "generate.yaml").defaults):
        if isinstance(entry, dict) and group in entry:
            return str(entry[group])
    raise KeyError(f"conf/generate.yaml picks no default for '{group}'")


def load_group_config(group: str, name: str, **overrides: Any) -> DictConfig:
    """``conf/<group>/<name>.yaml`` with ``overrides`` merged in; lists the choices if unknown."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        choices = ", ".join(group_choices(group))
        raise GenerationError(f"unknown {group} '{name}'; choose one of: {choices}")
    return OmegaConf.merge(OmegaConf.load(path), overrides)


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
