"""A rich progress bar for generation: window, network evaluations and ETA (a plugin).

One unit throughout: the bar counts network evaluations (NFE), each candidate counted, so
"36/90 NFE" means 36 of the run's 90 evaluations are done and ends on the sidecar's ``nfe``.
RePaint's moves back up the chain cost no evaluation and do not advance it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pianodiff.generation.plugins import GenerationPlugin, WindowEvent


class ProgressBar(GenerationPlugin):
    """One bar over every network evaluation of the run; shows the current window."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} NFE"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = None
        self._calls = 0  # batched network calls seen so far (the payload's running "nfe")

    def on_start(self, info: dict[str, Any]) -> None:
        self._calls = 0
        self.progress.start()
        self.task = self.progress.add_task(
            f"window 1/{info['num_windows']}", total=info["total_nfe"]
        )

    def on_window(self, event: WindowEvent) -> None:
        if self.task is not None and event.phase == "start":
            desc = f"window {event.index + 1}/{event.num_windows} ({event.kind})"
            self.progress.update(self.task, description=desc)

    def on_step(self, payload: dict[str, Any]) -> None:
        if self.task is None:
            return
        # payload["nfe"] counts batched calls since the run began; each call evaluates the
        # network once per candidate in the batch.
        calls, self._calls = payload["nfe"] - self._calls, payload["nfe"]
        if calls:
            self.progress.update(self.task, advance=calls * payload["x_t"].shape[0])

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def progress_plugin(cfg: Any) -> ProgressBar | None:
    """The progress bar when ``cfg.progress`` is on (the default), as a generation plugin."""
    return ProgressBar() if cfg.get("progress", True) else None
