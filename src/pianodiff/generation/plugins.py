"""The hook list of a generation run: who hears about windows, steps and the written file.

A plugin subclasses :class:`GenerationPlugin` and overrides what it needs. Plugins reach a
run in two ways:

* passed explicitly: ``run_generation(cfg, plugins=[MyPlugin()])`` or to the engine;
* named in the config: ``cfg.plugins`` (``conf/plugins/default.yaml``) holds ``_target_``
  nodes of factories ``(cfg) -> plugin | None``; :func:`build_plugins` instantiates each
  and calls it with the run's config, and a factory returns None when its switch (e.g.
  ``cfg.history``) is off.

Order of calls in a run: ``on_start(info)``; per window ``on_window(event)`` with
``event.phase == "start"``, then ``on_step(payload)`` for every move of the sampler walk
(the payload of ``diffusion/sampler.py`` plus ``window`` and ``num_windows``), then
``on_window`` with phase "end"; after the WAV and sidecar are written
``after_write(result)``; finally ``close()`` (also on failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.utils import instantiate


@dataclass
class WindowEvent:
    """Where a run is: which window, its place in the output, and (at the end) its seam.

    Attributes:
        phase: "start" or "end".
        index: 0-based window number (the base window, when sampled, is 0).
        num_windows: windows sampled in this run.
        kind: "base" (unconditional) or "extend".
        start: sample in the output where this window begins.
        context: known samples at its head; new: samples it adds.
        seam: sample in the output where its new audio begins (None for the base window).
        nfe: network evaluations of this window (end only).
        seam_scores: the seam score of each candidate (end only), chosen: the kept one.
        audio: (context + new,) the kept window audio (end only).
    """

    phase: str
    index: int
    num_windows: int
    kind: str
    start: int
    context: int
    new: int
    seam: int | None = None
    nfe: int = 0
    seam_scores: list[float] = field(default_factory=list)
    chosen: int = 0
    audio: Any = None


class GenerationPlugin:
    """Base plugin: every hook does nothing."""

    def on_start(self, info: dict[str, Any]) -> None:
        """Before the first window; ``info`` has plan, extender, windows, steps per window."""

    def on_window(self, event: WindowEvent) -> None:
        """At the start and end of every window."""

    def on_step(self, payload: dict[str, Any]) -> None:
        """At every move of the sampler's walk (payload as in diffusion/sampler.py)."""

    def after_write(self, result: Any) -> None:
        """After the audio and its sidecar are on disk (``result``: GenerationResult)."""

    def close(self) -> None:
        """At the end of the run, success or not."""


PluginFactory = Callable[[Any], GenerationPlugin | None]
"""What a ``conf/plugins`` node instantiates to: the run's config in, a plugin or None out."""


def build_plugins(cfg: Any) -> list[GenerationPlugin]:
    """The plugins ``cfg.plugins`` names whose switches are on, in the config's order."""
    nodes = cfg.get("plugins") or {}
    factories: list[PluginFactory] = [instantiate(node) for node in nodes.values() if node]
    plugins = [factory(cfg) for factory in factories]
    return [p for p in plugins if p is not None]


class PluginList(GenerationPlugin):
    """Several plugins behaving as one."""

    def __init__(self, plugins: list[GenerationPlugin]):
        self.plugins = list(plugins)

    def on_start(self, info: dict[str, Any]) -> None:
        for p in self.plugins:
            p.on_start(info)

    def on_window(self, event: WindowEvent) -> None:
        for p in self.plugins:
            p.on_window(event)

    def on_step(self, payload: dict[str, Any]) -> None:
        for p in self.plugins:
            p.on_step(payload)

    def after_write(self, result: Any) -> None:
        for p in self.plugins:
            p.after_write(result)

    def close(self) -> None:
        for p in self.plugins:
            p.close()
