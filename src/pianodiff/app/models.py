"""The model list of the page and the one model a process keeps loaded.

An export folder (``model.safetensors`` + ``config.yaml``) is loaded with
``checkpoint/export.load_export``, the safe loader: plain YAML values, an allow-list of
classes and safetensors weights, so nothing in a folder can run code.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pianodiff.checkpoint.export import LoadedModel, load_export
from pianodiff.generation.device import pick_device
from pianodiff.generation.paths import project_root

EXPORT_FILES = ("model.safetensors", "config.yaml")


def default_models_folder() -> Path:
    """``checkpoints/`` of the project (``$PIANODIFF_ROOT`` or the nearest above here)."""
    return (project_root() or Path.cwd()) / "checkpoints"


def is_export(folder: Path) -> bool:
    """Whether ``folder`` holds an export's two files (their contents are checked on load)."""
    return all((folder / name).is_file() for name in EXPORT_FILES)


def list_exports(folder: str | Path) -> list[Path]:
    """The export folders directly inside ``folder``, by name; [] when it does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and is_export(p))


class ModelCache:
    """Keeps one loaded export per process; asking for another replaces it.

    Args:
        device: ``auto`` (cuda > mps > cpu), ``cpu`` or ``cuda``.
    """

    def __init__(self, device: str = "auto"):
        self.device = device
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._key: Path | None = None

    def get(self, folder: str | Path) -> LoadedModel:
        """The loaded model of ``folder`` (loaded now if another, or none, is held)."""
        key = Path(folder).expanduser().resolve()
        with self._lock:
            if self._model is None or self._key != key:
                self._model = None  # free the old one before loading the next
                self._model = load_export(key, pick_device(self.device))
                self._key = key
            return self._model

    @property
    def loaded(self) -> Path | None:
        """The folder of the model held now, if any."""
        return self._key if self._model is not None else None
