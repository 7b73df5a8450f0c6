"""Lightning checkpoints -> inference exports (EMA weights as safetensors + config).

``ExportOnFitEnd`` writes the export automatically when ``fit`` ends; ``export_checkpoint``
does the same for any saved ``.ckpt`` (used by ``scripts/export_checkpoint.py``). The
callback also keeps the training wall-clock across resumes, so the export's ``train_hours``
counts every session.
"""

from __future__ import annotations

import os
import pickle
import platform
import re
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from pianodiff import SAMPLE_RATE
from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.checkpoint.export import (
    CheckpointError,
    check_no_interpolation,
    export_model,
    plain_sections,
)
from pianodiff.checkpoint.plain_yaml import size_problem

EMA_PREFIX = "ema.net."


def recorded_path(path: str | Path) -> str:
    """``path`` as an export's meta records it, never the builder's absolute path: relative to
    the working directory when it lies inside it (``outputs/<name>/<run>/checkpoints/last.ckpt``),
    else from its run folder on (``<run>/checkpoints/last.ckpt``) or, for anything else, its
    name alone."""
    full = Path(path).resolve()
    cwd = Path.cwd().resolve()
    if full.is_relative_to(cwd) and full != cwd:
        return full.relative_to(cwd).as_posix()
    keep = 3 if full.parent.name == "checkpoints" and len(full.parts) > 3 else 1
    return Path(*full.parts[-keep:]).as_posix()


def hardware_description(device: torch.device | str = "cpu") -> str:
    """A short description of the training hardware, e.g. 'cuda: NVIDIA H100 x1' or
    'cpu: AMD EPYC (AVX512), 2 threads'. The vector ISA torch dispatches to is named because
    the same CPU model name hides AVX2-only and AVX-512/bf16 hosts, whose speeds differ."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)} x{torch.cuda.device_count()}"
    isa = torch.backends.cpu.get_cpu_capability()
    return f"cpu: {_cpu_name()} ({isa}), {torch.get_num_threads()} threads"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a pianodiff Lightning checkpoint without running code from it.

    ``torch.load(weights_only=True)``: only tensors and plain containers are unpickled; a
    file that would import or call anything is refused. One-line ``CheckpointError`` when
    the file is missing, corrupt, unsafe or not a pianodiff checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder, not a training checkpoint: pass its .ckpt file "
            "(<run>/checkpoints/last.ckpt); an export folder is used as it is"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():
            raise CheckpointError(f"{path} is corrupt or not a PyTorch checkpoint") from err
        raise CheckpointError(
            f"{path} would run code when loaded ({_unsafe_globals(path, err)}); refused, nothing "
            "was run: load only checkpoints written by pianodiff.train, or share an export "
            "folder (safetensors)"
        ) from None
    except Exception as err:
        raise CheckpointError(
            f"{path} is corrupt or not a PyTorch checkpoint ({err.__class__.__name__})"
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or CONFIG_KEY not in ckpt:
        raise CheckpointError(
            f"{path} is not a pianodiff training checkpoint (no '{CONFIG_KEY}' config inside)"
        )
    config = ckpt[CONFIG_KEY]
    if not isinstance(config, dict) or not config.get("model") or not config.get("diffusion"):
        raise CheckpointError(f"{path} carries no model/diffusion config; cannot rebuild the net")
    problem = size_problem(config, f"its '{CONFIG_KEY}' config")  # shared references expand
    if problem:
        raise CheckpointError(
            f"{path}: {problem}; refused, nothing was run (load only checkpoints written by "
            "pianodiff.train)"
        )
    return ckpt


def _unsafe_globals(path: Path, err: Exception) -> str:
    """The globals a refused pickle names (read by scanning it, never by running it)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint: the unpickler's message names the first one
        names = re.findall(r"GLOBAL ([\w.]+)", str(err))[:1]
    return "it names " + ", ".join(names[:3]) if names else "it is not weights-only"


def ema_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The EMA network's weights from a LightningModule state dict (prefix stripped)."""
    ema = {k[len(EMA_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(EMA_PREFIX)}
    if not ema:
        raise CheckpointError("the checkpoint holds no EMA weights (keys 'ema.net.*')")
    return ema


def export_checkpoint(
    ckpt_path: str | Path, out_dir: str | Path, meta: dict[str, Any] | None = None
) -> Path:
    """Export the EMA weights of a Lightning checkpoint to ``out_dir`` (atomic)."""
    ckpt = load_training_checkpoint(ckpt_path)
    cfg = ckpt[CONFIG_KEY]
    plain_sections(cfg, str(ckpt_path))  # never write an export that loading would refuse
    saved_meta = dict(cfg.get("meta") or {})
    check_no_interpolation(saved_meta, "meta", str(ckpt_path))
    saved_meta.update(
        {
            "sample_rate": SAMPLE_RATE,
            "steps": int(ckpt.get("global_step", 0)),
            "source_checkpoint": recorded_path(ckpt_path),
        }
    )
    clock = ckpt.get("callbacks", {})
    for key, state in clock.items():
        if key.startswith("ExportOnFitEnd") and isinstance(state, dict):
            saved_meta["train_hours"] = round(state.get("train_seconds", 0.0) / 3600, 6)
    saved_meta.update(meta or {})
    return export_model(
        out_dir, ema_state_dict(ckpt["state_dict"]), cfg["model"], cfg["diffusion"], saved_meta
    )


class ExportOnFitEnd(L.Callback):
    """At the end of ``fit``, export the EMA weights to ``directory``.

    Args:
        directory: export folder (``model.safetensors`` + ``config.yaml``).
        data_description: a note on the training data stored in the export's meta.
    """

    def __init__(self, directory: str, data_description: str | None = None):
        self.directory = directory
        self.data_description = data_description
        self.train_seconds = 0.0
        self._started: float | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.monotonic()

    def _elapsed(self) -> float:
        now = time.monotonic()
        extra = 0.0 if self._started is None else now - self._started
        return self.train_seconds + extra

    def state_dict(self) -> dict[str, Any]:
        return {"train_seconds": self._elapsed()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))
        self._started = time.monotonic()

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step == 0:
            return  # nothing trained (e.g. a resumed run that was already finished)
        val = {
            k: round(float(v), 6)
            for k, v in trainer.callback_metrics.items()
            if k.startswith("val/") and torch.is_tensor(v) and v.numel() == 1
        }
        meta = {
            "sample_rate": SAMPLE_RATE,
            "steps": int(trainer.global_step),
            "train_hours": round(self._elapsed() / 3600, 6),
            "hardware": hardware_description(pl_module.device),
            "world_size": int(trainer.world_size),
            "precision": str(trainer.precision),
            "val_losses": val,
            "data": self.data_description or _describe_data(trainer),
            "host": platform.node() or os.uname().nodename,
        }
        state = {k: v for k, v in pl_module.ema.net.state_dict().items()}
        export_model(
            self.directory, state, pl_module.model_config, pl_module.diffusion_config, meta
        )


def _describe_data(trainer: L.Trainer) -> str:
    dm = getattr(trainer, "datamodule", None)
    if dm is None or not getattr(dm, "train_clips", None):
        return "unknown"
    seconds = sum(len(c.audio) for c in dm.train_clips) / dm.sample_rate
    roots = [] if dm.root is None else [dm.root] if isinstance(dm.root, str | Path) else dm.root
    root = " + ".join(recorded_path(r) for r in roots)
    return f"{root or type(dm).__name__}: {len(dm.train_clips)} files, {seconds / 60:.1f} min"
