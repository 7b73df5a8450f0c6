"""Where ``bf16: auto`` keeps its verdicts: one JSON file under the user's cache folder,
keyed by host and model, so the timing runs once per machine and network. The trainer's
``precision: auto`` keeps its verdicts here too (``training/precision_probe.py``).

    $PIANODIFF_CACHE_DIR/bf16_verdicts.json     when the variable is set (tests: tmp_path)
    $XDG_CACHE_HOME/pianodiff/bf16_verdicts.json  else, with ~/.cache as XDG's default

The host key names what decides the speed of a forward: the processor (model name and
core count from /proc/cpuinfo, or the CUDA card), torch's version and thread count, and
the device kind; the model key is a digest of the network's class, parameter names,
shapes and values (:func:`model_key`), or for a network about to be trained, of its config
and the probe's shape (:func:`config_key`). A new torch, another thread count, retrained
weights or another config get a fresh measurement. The file is rewritten atomically; an
unreadable one counts as empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from pianodiff.core.safe_writes import atomic_path

CACHE_ENV = "PIANODIFF_CACHE_DIR"
VERDICT_FILE = "bf16_verdicts.json"


def cache_dir() -> Path:
    """The pianodiff cache folder (created on first write, not here)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "pianodiff"


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def host_key(device: torch.device) -> str:
    """What the speed of a forward on ``device`` depends on, as one readable string."""
    if device.type == "cuda":
        where = f"cuda:{torch.cuda.get_device_name(device)}"
    else:
        where = f"{device.type}:{cpu_name()} x{os.cpu_count()}"
    return f"{where}|torch {torch.__version__}|{torch.get_num_threads()} threads"


def model_key(net: torch.nn.Module) -> str:
    """A digest (16 hex digits) of the network's class, parameter names, shapes and values."""
    digest = hashlib.sha256(type(net).__qualname__.encode())
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def config_key(kind: str, config: dict[str, Any]) -> str:
    """``kind`` and a digest (16 hex digits) of a plain ``config`` (e.g. a model config and
    a training step's batch shape): the key of a verdict about a network not yet trained."""
    text = json.dumps(config, sort_keys=True, default=str)
    return f"{kind} {hashlib.sha256(text.encode()).hexdigest()[:16]}"


class VerdictCache:
    """The verdict file: ``get`` and ``put`` records by (host, model) key."""

    def __init__(self, folder: Path | None = None):
        self.path = (folder if folder is not None else cache_dir()) / VERDICT_FILE

    @staticmethod
    def key(host: str, model: str) -> str:
        return f"{host}|model {model}"

    def read(self) -> dict[str, dict[str, Any]]:
        """Every record; {} when the file is missing or unreadable."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, host: str, model: str) -> dict[str, Any] | None:
        """The record of this host and model, or None."""
        record = self.read().get(self.key(host, model))
        return record if isinstance(record, dict) else None

    def put(self, host: str, model: str, record: dict[str, Any]) -> None:
        """Store ``record`` for this host and model (other records are kept)."""
        data = self.read()
        data[self.key(host, model)] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
