"""Inference exports: EMA weights as safetensors plus the resolved model/diffusion config.

An export folder (``checkpoints/<name>/``) holds

    model.safetensors   the network's EMA weights (no pickle: safe to load from anyone)
    config.yaml         {model: {_target_: ...}, diffusion: {_target_: ...}, meta: {...}}

so that ``load_export`` rebuilds the exact network and noise schedule from the folder alone.
Writes are atomic: a failed export never leaves a half folder behind.

Loading runs no code from the folder: the weights are safetensors (no pickle) and the
config is data. ``hydra.utils.instantiate`` would import and call whatever a ``_target_``
names (``torch.load``, ``builtins.open``, a module whose import runs code), so before
anything is built every ``_target_`` of the model and diffusion sections, at any depth, is
looked up by exact name in the project's own networks and schedules (``NETWORK_TARGETS``,
``SCHEDULE_TARGETS``); anything else, and every Hydra key besides ``_target_``
(``_args_``, ``_partial_``, ...), is refused in one line naming the key.

Nor can a folder take the process down: ``config.yaml`` is read by ``plain_yaml`` (no
anchors or aliases, whose expansion turns ten lines into billions of values; size and depth
capped while parsing), and a network or schedule that would not fit in memory is refused,
naming the key, before anything is allocated (``build_limits``).
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

from pianodiff import SAMPLE_RATE
from pianodiff.checkpoint.build_limits import network_size_problem, schedule_steps_problem
from pianodiff.checkpoint.plain_yaml import PlainYamlError, read_plain_yaml
from pianodiff.core.errors import UserError
from pianodiff.core.safe_writes import remove_stale, temp_suffix
from pianodiff.diffusion.schedule import NoiseSchedule

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
CARD_FILE = "MODEL_CARD.md"  # written beside them by scripts/write_model_card.py
MAX_SAMPLE_RATE = 384_000  # Hz: the highest rate audio hardware records

# The classes and builders a checkpoint config may name: the project's own, nothing else.
# A new network or schedule builder must be added here (tests check every shipped option).
NETWORK_TARGETS = frozenset(
    {
        "pianodiff.nets.DiffWave",
        "pianodiff.nets.diffwave.DiffWave",
        "pianodiff.nets.MultiRateDiffWave",
        "pianodiff.nets.multirate.MultiRateDiffWave",
        "pianodiff.diffusion.preconditioning.PreconditionedEps",
    }
)
SCHEDULE_TARGETS = frozenset(
    {
        "pianodiff.diffusion.schedule.linear_schedule",
        "pianodiff.diffusion.schedule.cosine_schedule",
        "pianodiff.diffusion.schedule.log_snr_schedule",
    }
)
HYDRA_KEYS = ("_target_", "_args_", "_partial_", "_convert_", "_recursive_")


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message says which file and why."""


def check_targets(section: str, node: Any, allowed: frozenset[str], source: str = "") -> None:
    """Refuse (``CheckpointError``) any ``_target_`` in ``node`` outside the allow-lists.

    ``node`` is a plain dict/list (a resolved config section); ``section`` is its key path
    ("model"), used to name the offending key. The top node's target must be in
    ``allowed``; nested nodes (e.g. the net inside a preconditioner) may name any network
    or schedule. Nothing is imported or called.
    """
    where = f"{source}: " if source else ""
    fix = "use a checkpoint written by pianodiff (train, scripts/export_checkpoint.py)"
    if isinstance(node, list):
        for i, item in enumerate(node):
            check_targets(f"{section}[{i}]", item, NETWORK_TARGETS | SCHEDULE_TARGETS, source)
        return
    if not isinstance(node, dict):
        return
    if "_target_" in node:
        target = node["_target_"]
        if not isinstance(target, str) or target not in allowed:
            names = ", ".join(sorted(allowed))
            raise CheckpointError(
                f"{where}{section}._target_ = {target!r} is not one of pianodiff's own "
                f"classes ({names}); refused, nothing was run ({fix})"
            )
    for key in node:
        if isinstance(key, str) and key.startswith("_") and key.endswith("_") and key != "_target_":
            raise CheckpointError(
                f"{where}{section}.{key} is not allowed in a checkpoint config "
                f"(only _target_ and plain values); refused, nothing was run ({fix})"
            )
    for key, value in node.items():
        if key != "_target_":
            check_targets(f"{section}.{key}", value, NETWORK_TARGETS | SCHEDULE_TARGETS, source)


def check_no_interpolation(node: Any, section: str, source: str = "") -> None:
    """Refuse a ``${...}`` anywhere in ``node`` (plain, unresolved): resolving one from a
    file would read the environment (``oc.env``) into the model or its card. Exports and
    training checkpoints hold resolved values only."""
    if isinstance(node, dict):
        for key, value in node.items():
            check_no_interpolation(value, f"{section}.{key}", source)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_no_interpolation(value, f"{section}[{i}]", source)
    elif isinstance(node, str) and "${" in node:
        where = f"{source}: " if source else ""
        raise CheckpointError(
            f"{where}{section} = {node!r} is an interpolation; refused, nothing was resolved "
            "(a checkpoint holds plain values: use one written by pianodiff)"
        )


def plain_sections(
    config: DictConfig | dict, source: str = "", trusted: bool = False
) -> tuple[dict, dict]:
    """The resolved ``model`` and ``diffusion`` sections of ``config`` as plain dicts,
    their targets checked (``check_targets``) before anything is built.

    ``trusted=False`` (a file from anyone): an interpolation is refused instead of resolved.
    ``trusted=True`` is for configs composed from the shipped YAML (``${diffusion}``)."""
    where = f"{source}: " if source else ""
    try:
        root = OmegaConf.create(config) if not isinstance(config, DictConfig) else config
        if not trusted:
            for name in ("model", "diffusion"):
                raw = OmegaConf.to_container(root[name], resolve=False)
                check_no_interpolation(raw, name, source)
        model = OmegaConf.to_container(root.model, resolve=True)
        diffusion = OmegaConf.to_container(root.diffusion, resolve=True)
    except CheckpointError:
        raise
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{where}no readable model/diffusion config ({first})") from err
    for name, node in (("model", model), ("diffusion", diffusion)):
        if not isinstance(node, dict) or "_target_" not in node:
            raise CheckpointError(f"{where}{name} has no _target_; not a pianodiff config")
    check_targets("model", model, NETWORK_TARGETS, source)
    check_targets("diffusion", diffusion, SCHEDULE_TARGETS, source)
    return model, diffusion


def build_network(model: dict, source: str = "") -> torch.nn.Module:
    """The network of a checked, plain model section (``plain_sections``); one too large
    to build (``build_limits``) is refused before anything is allocated."""
    check_no_interpolation(model, "model", source)
    check_targets("model", model, NETWORK_TARGETS, source)
    _refuse(
        schedule_steps_problem(model, "model")
        or network_size_problem(model, "model", SCHEDULE_TARGETS),
        source,
    )
    return instantiate(model)


def build_schedule(diffusion: dict, source: str = "") -> NoiseSchedule:
    """The noise schedule of a checked, plain diffusion section (``plain_sections``)."""
    check_no_interpolation(diffusion, "diffusion", source)
    check_targets("diffusion", diffusion, SCHEDULE_TARGETS, source)
    _refuse(schedule_steps_problem(diffusion, "diffusion"), source)
    return instantiate(diffusion)


@dataclass
class LoadedModel:
    """A network ready for inference with its schedule and the config it came from."""

    net: torch.nn.Module
    schedule: NoiseSchedule
    config: DictConfig
    path: Path

    @property
    def sample_rate(self) -> int:
        return int(self.config.get("meta", {}).get("sample_rate", SAMPLE_RATE))


def export_model(
    directory: str | Path,
    state_dict: dict[str, torch.Tensor],
    model_config: dict[str, Any] | DictConfig,
    diffusion_config: dict[str, Any] | DictConfig,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``directory`` atomically (a temp folder beside it, then rename)."""
    directory = Path(directory)
    config = OmegaConf.create(
        {
            "model": OmegaConf.to_container(OmegaConf.create(model_config), resolve=True),
            "diffusion": OmegaConf.to_container(OmegaConf.create(diffusion_config), resolve=True),
            "meta": meta or {},
        }
    )
    plain_sections(config, str(directory), trusted=True)  # never write one loading refuses
    _check_destination(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(
            f"cannot make the folder {directory.parent} ({err.strerror}); choose another "
            "destination for the export"
        ) from None
    old = directory.with_name(f".{directory.name}.old")
    if not directory.exists() and old.is_dir():
        os.replace(old, directory)  # an export killed between its two renames: restore
    remove_stale(directory)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=temp_suffix(), dir=directory.parent)
    )
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; the export is meant to be shared
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        OmegaConf.save(config, tmp / CONFIG_FILE)
        for written in tmp.iterdir():  # the writers may create 0600 files; share as open() does
            os.chmod(written, 0o666 & ~mask)
        if directory.exists():
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
    old = directory.with_name(f".{directory.name}.old")
    if not directory.exists() and old.is_dir():
        raise CheckpointError(
            f"{directory} is missing but {old} is there (an export was interrupted); "
            f"rename {old.name} back to {directory.name} or export again"
        )
    if not weights.is_file() or not cfg_file.is_file():
        raise CheckpointError(
            f"{directory} is not a pianodiff export (needs {WEIGHTS_FILE} and {CONFIG_FILE}); "
            "export one with scripts/export_checkpoint.py or pass checkpoint=<folder>"
        )
    try:  # anchors, aliases, tags and oversized files are refused before anything is built
        data = read_plain_yaml(cfg_file)
    except (PlainYamlError, OSError) as err:
        raise CheckpointError(
            f"{cfg_file} is not readable YAML ({err}); refused, nothing was run "
            "(only plain YAML values are read: no anchors, aliases, tags or code)"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{cfg_file} holds no model/diffusion mapping; not an export")
    try:
        config = OmegaConf.create(data)
    except Exception as err:
        raise CheckpointError(f"{cfg_file} is not a config: {_first_line(err)}") from None
    model_cfg, diffusion_cfg = plain_sections(config, str(cfg_file))  # refuses before building
    meta = config.get("meta")
    # An empty DictConfig is falsy, so "or {}" would hand a plain dict to to_container.
    meta = OmegaConf.to_container(meta, resolve=False) if OmegaConf.is_config(meta) else meta
    check_meta({} if meta is None else meta, str(cfg_file))
    try:
        schedule = build_schedule(diffusion_cfg, str(cfg_file))
        net = build_network(model_cfg, str(cfg_file))
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"{cfg_file} does not describe a model: {_first_line(err)}") from err
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


def check_meta(meta: Any, source: str) -> None:
    """Refuse (``CheckpointError``) an export's meta that is not a mapping of plain values
    with a whole-number ``sample_rate``."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{source}: meta must be a mapping, got {type(meta).__name__}")
    check_no_interpolation(meta, "meta", source)
    rate = meta.get("sample_rate", SAMPLE_RATE)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 0 < rate <= MAX_SAMPLE_RATE:
        raise CheckpointError(
            f"{source}: meta.sample_rate must be a whole number of Hz up to {MAX_SAMPLE_RATE}, "
            f"got {rate!r}; use an export written by pianodiff"
        )


def _check_destination(directory: Path) -> None:
    """An export replaces only an earlier export or an empty folder: never a file, nor a
    folder holding anything else (which replacing it would delete)."""
    fix = "choose a new folder, or an earlier export, as the destination"
    if directory.name in ("", ".", ".."):
        raise CheckpointError(f"'{directory}' names no folder of its own; {fix}")
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} is a file, not an export folder; {fix}")
    for parent in directory.parents:
        if parent.exists() and not parent.is_dir():
            raise CheckpointError(f"{parent} is a file, so {directory} cannot be made; {fix}")
    if directory.is_dir():
        export_files = (WEIGHTS_FILE, CONFIG_FILE, CARD_FILE)
        others = sorted(p.name for p in directory.iterdir() if p.name not in export_files)
        if others:
            raise CheckpointError(
                f"{directory} is a folder holding other things than an export "
                f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); {fix}"
            )


def _refuse(problem: str | None, source: str) -> None:
    """A size problem of ``build_limits`` as a one-line ``CheckpointError``."""
    if problem is not None:
        where = f"{source}: " if source else ""
        raise CheckpointError(
            f"{where}{problem}; refused, nothing was run (use a checkpoint written by pianodiff)"
        )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _key_mismatch(expected: dict, got: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
