"""A rich progress bar for generation: window, step, NFE and ETA (a plugin)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pianodiff.generation.plugins import GenerationPlugin, WindowEvent


class ProgressBar(GenerationPlugin):
    """One bar over every sampler move of the run; shows the current window and NFE."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("NFE {task.fields[nfe]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = None

    def on_start(self, info: dict[str, Any]) -> None:
        total = info.get("total_moves") or info["num_windows"] * info["moves_per_window"]
        self.progress.start()
        self.task = self.progress.add_task(f"window 1/{info['num_windows']}", total=total, nfe=0)

    def on_window(self, event: WindowEvent) -> None:
        if self.task is not None and event.phase == "start":
            desc = f"window {event.index + 1}/{event.num_windows} ({event.kind})"
            self.progress.update(self.task, description=desc)

    def on_step(self, payload: dict[str, Any]) -> None:
        if self.task is not None:  # payload["nfe"] counts the whole run's evaluations
            self.progress.update(self.task, advance=1, nfe=payload["nfe"])

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None
