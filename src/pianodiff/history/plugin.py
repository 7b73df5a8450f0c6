"""``history=true`` on generate: record every window's walk and write the animation.

A :class:`~pianodiff.generation.plugins.GenerationPlugin` built by :func:`history_plugin`,
which ``conf/plugins/default.yaml`` names (``_target_``) for every generate run. It feeds
the sampler payloads to a :class:`HistoryRecorder`, marks each window,
keeps the candidate the generator chose, and after the WAV is written renders
``<output>.history.gif`` (+ ``.mp4`` with ffmpeg) beside it. The written paths are added to
``result.meta["history_files"]`` (in memory, for the W&B plugin that runs after this one),
and ``result.meta["history_windows"]`` says which animation frames show which window, so a
comparison can pick a frame of an extension window (where extenders differ) rather than
one of the base window (the same plain walk for every extender).
"""

from __future__ import annotations

import logging
from typing import Any

from pianodiff import SAMPLE_RATE
from pianodiff.generation.plugins import GenerationPlugin, WindowEvent
from pianodiff.history.recorder import HistoryRecorder

log = logging.getLogger(__name__)


class HistoryPlugin(GenerationPlugin):
    """Record the diffusion history of a generate run and render it after the write.

    Args:
        max_frames: frames kept over the whole run (bounded whatever ``seconds`` is).
        fps: animation speed.
        mp4: also write an MP4 when ffmpeg is on PATH.
    """

    def __init__(self, max_frames: int = 60, fps: float = 8.0, mp4: bool = True):
        self.recorder = HistoryRecorder(max_frames, batch_index=None, sample_rate=SAMPLE_RATE)
        self.fps = fps
        self.mp4 = mp4
        self.title = ""
        self.files: list = []
        self.moves_per_window: int | None = None
        self.kinds: dict[int, str] = {}  # window number -> "base" | "extend"

    def on_start(self, info: dict[str, Any]) -> None:
        self.title = f"{info.get('extender', '')} · {info.get('plan', '')}"
        self.recorder.label = str(info.get("extender", ""))
        self.moves_per_window = int(info.get("moves_per_window", 0)) or None
        windows = int(info.get("num_windows", 0))
        total = int(info.get("total_moves", 0)) or (self.moves_per_window or 0) * windows
        if total and windows > 0:
            self.recorder.expect(total, windows)

    def on_window(self, event: WindowEvent) -> None:
        if event.phase == "start":
            seams = [event.context] if event.kind == "extend" and event.context > 0 else []
            label = f"{event.kind} window {event.index + 1}/{event.num_windows}"
            self.kinds[event.index] = event.kind
            self.recorder.start_window(
                event.index, event.start, seams, label, num_moves=self.moves_per_window
            )
        elif event.phase == "end":
            self.recorder.choose(event.chosen)

    def on_step(self, payload: dict[str, Any]) -> None:
        self.recorder(payload)

    def after_write(self, result: Any) -> None:
        from pianodiff.history.renderer import render_history  # matplotlib: only when used

        if not self.recorder.frames and self.recorder.num_moves == 0:
            log.info("history: no sampler steps were recorded; no animation written")
            return
        self.files = render_history(
            self.recorder, result.output, title=self.title, fps=self.fps, mp4=self.mp4
        )
        result.meta["history_files"] = [str(p) for p in self.files]
        result.meta["history_windows"] = self.frame_ranges()
        log.info("history: wrote %s", ", ".join(str(p) for p in self.files))

    def frame_ranges(self) -> list[dict[str, Any]]:
        """Per window shown in the animation: its number, kind, label and the first and last
        animation frame (0-based, inclusive) that show it."""
        spans: dict[int, list[int]] = {}
        for i, frame in enumerate(self.recorder.frames):
            spans.setdefault(frame.window, [i, i])[1] = i
        out = []
        for w, (first, last) in sorted(spans.items()):
            info = self.recorder.windows[w]
            kind = self.kinds.get(info.index, "extend" if info.seams else "base")
            out.append(
                {"window": info.index, "kind": kind, "label": info.label, "frames": [first, last]}
            )
        return out


def history_plugin(cfg: Any) -> HistoryPlugin | None:
    """The plugin when ``cfg.history`` is true (bool, or a dict with frames/fps/mp4)."""
    opt = cfg.get("history", False) if hasattr(cfg, "get") else False
    if not opt:
        return None
    if hasattr(opt, "get"):  # history: {frames: 60, fps: 8, mp4: true}
        return HistoryPlugin(
            int(opt.get("frames", 60)), float(opt.get("fps", 8.0)), bool(opt.get("mp4", True))
        )
    return HistoryPlugin()
