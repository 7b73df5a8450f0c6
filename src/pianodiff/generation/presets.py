"""Presets: named points of the measured sampler frontier (``conf/preset/``).

A preset is a config of the ``preset`` group that selects a sampler through its defaults
list and names itself::

    # @package _global_
    defaults:
      - override /sampler: ddpm
    preset:
      name: best

``conf/generate.yaml`` lists ``- preset: standard`` after ``- sampler: ...``, so the preset
picks the sampler, and a ``sampler=...`` on the command line still wins, in either order
(Hydra applies command-line group choices over every defaults-list override). Sampler
settings (``sampler.num_steps=...``) apply to whichever sampler was picked. ``~preset``
drops the preset (the ``sampler`` entry of generate.yaml then decides).

The sidecar records the preset, the sampler it selects and whether that sampler is the one
that ran (:func:`preset_record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pianodiff.conf import CONF_DIR, group_choices
from pianodiff.generation.configs import load_group_config
from pianodiff.generation.errors import GenerationError


@dataclass(frozen=True)
class Preset:
    """A preset, the ``conf/sampler`` option it selects and the one it falls back to on a
    model that cannot run it (None: no fallback)."""

    name: str
    sampler: str
    fallback: str | None = None

    def sampler_config(self) -> DictConfig:
        """The selected sampler's node as shipped."""
        return load_group_config("sampler", self.sampler)


def resolve_preset(name: str) -> Preset:
    """The preset ``name`` of ``conf/preset/``; an unknown one is one line listing the choices."""
    path = CONF_DIR / "preset" / f"{name}.yaml"
    if not path.is_file():
        choices = ", ".join(group_choices("preset"))
        raise GenerationError(f"unknown preset '{name}'; choose one of: {choices}")
    raw = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(raw, dict)
    fallback = (raw.get("preset") or {}).get("fallback")
    for entry in raw.get("defaults") or []:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if str(key).replace("override", "").strip(" /") == "sampler":
                    return Preset(name, str(value), None if fallback is None else str(fallback))
    raise GenerationError(f"conf/preset/{name}.yaml selects no sampler (- override /sampler: …)")


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def preset_record(
    preset: str | None, sampler_config: DictConfig | dict, fallback: bool = False
) -> dict[str, Any]:
    """The sidecar's preset fields for a run whose sampler node was ``sampler_config``.

    Returns {"preset": name or None, "preset_sampler": the option it selects,
    "preset_sampler_used": whether the sampler that ran is that option as shipped (false
    when ``sampler=...`` or a sampler setting on the command line overrode it)}. With
    ``fallback`` (the model could not run the preset's sampler) the option is the preset's
    fallback and "preset_fallback_from" names the sampler it replaced.
    """
    if preset is None:
        return {"preset": None}
    chosen = resolve_preset(preset)
    option = chosen.fallback if fallback and chosen.fallback else chosen.sampler
    shipped = load_group_config("sampler", option)
    record = {
        "preset": preset,
        "preset_sampler": option,
        "preset_sampler_used": _plain(sampler_config) == _plain(shipped),
    }
    if option != chosen.sampler:
        record["preset_fallback_from"] = chosen.sampler
    return record


def preset_of(cfg: DictConfig) -> str | None:
    """The preset a composed generate config ran with (None after ``~preset``)."""
    node = cfg.get("preset")
    return str(node.name) if isinstance(node, DictConfig) and "name" in node else None
