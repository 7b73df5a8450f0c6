"""Diffusion history: record the sampler's states (recorder) and animate them (renderer).

Importing this package registers the ``history=true`` plugin of generate (plugin.py). The
renderer (matplotlib) is imported on first use, so runs without history don't pay for it.
"""

from __future__ import annotations

import importlib
from typing import Any

from pianodiff.history.plugin import HistoryPlugin
from pianodiff.history.recorder import HistoryFrame, HistoryRecorder, WindowInfo

_LAZY = {
    "history_path": "pianodiff.history.renderer",
    "render_history": "pianodiff.history.renderer",
    "snapshot_strip": "pianodiff.history.renderer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HistoryFrame",
    "HistoryPlugin",
    "HistoryRecorder",
    "WindowInfo",
    "history_path",
    "render_history",
    "snapshot_strip",
]
