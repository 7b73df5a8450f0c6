"""Diffusion history: record the sampler's states (recorder) and animate them (renderer).

Importing this package registers the ``history=true`` plugin of generate (plugin.py).
"""

from pianodiff.history.plugin import HistoryPlugin
from pianodiff.history.recorder import HistoryFrame, HistoryRecorder, WindowInfo
from pianodiff.history.renderer import history_path, render_history, snapshot_strip

__all__ = [
    "HistoryFrame",
    "HistoryPlugin",
    "HistoryRecorder",
    "WindowInfo",
    "history_path",
    "render_history",
    "snapshot_strip",
]
