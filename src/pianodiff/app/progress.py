"""The page's progress bar and Cancel button, as one generation plugin.

It counts network evaluations (NFE) exactly as the command line's bar does
(``generation/progress.py``): the payload's running ``nfe`` counts batched calls, each
evaluating the network once per candidate. A report callback receives the fraction done and
a caption; Cancel sets a flag that the next step sees, and the plugin raises
:class:`GenerationCancelled` there. ``run_generation`` writes only after sampling, so a
cancelled run leaves no file behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pianodiff.app.errors import GenerationCancelled
from pianodiff.generation.plugins import GenerationPlugin, WindowEvent

Report = Callable[[float, str], None]
"""``report(fraction in [0, 1], caption)``: e.g. Gradio's ``gr.Progress``."""


class PageProgress(GenerationPlugin):
    """Reports NFE done / NFE planned and stops the run when ``cancel`` is set.

    Args:
        report: called with (fraction, caption) at every step that evaluated the network.
        cancel: the flag the page's Cancel button sets.
        span: (start, end) of the bar this run fills, for several runs in one bar
            (a comparison of n extenders gives run i the span (i/n, (i+1)/n)).
        label: said before the caption, e.g. the extender of a comparison run.
    """

    def __init__(
        self,
        report: Report | None = None,
        cancel: threading.Event | None = None,
        span: tuple[float, float] = (0.0, 1.0),
        label: str = "",
    ):
        self.report = report
        self.cancel = cancel
        self.span = span
        self.label = label
        self.total = 0
        self.done = 0
        self.window = ""
        self._calls = 0

    def _check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise GenerationCancelled(
                f"cancelled after {self.done} of {self.total} network calls; nothing was written"
            )

    def on_start(self, info: dict[str, Any]) -> None:
        self.total, self.done, self._calls = int(info.get("total_nfe", 0)), 0, 0
        self._check()
        self._report()

    def on_window(self, event: WindowEvent) -> None:
        if event.phase == "start":
            self.window = f"window {event.index + 1}/{event.num_windows} ({event.kind})"
        self._check()

    def on_step(self, payload: dict[str, Any]) -> None:
        calls, self._calls = payload["nfe"] - self._calls, payload["nfe"]
        if calls:
            self.done += calls * payload["x_t"].shape[0]
            self._report()
        self._check()

    @property
    def fraction(self) -> float:
        """Where the bar stands in [0, 1] over the whole span of runs."""
        own = min(1.0, self.done / self.total) if self.total else 0.0
        start, end = self.span
        return start + (end - start) * own

    def _report(self) -> None:
        if self.report is None:
            return
        caption = f"{self.window} · {self.done}/{self.total} network calls".strip(" ·")
        self.report(self.fraction, f"{self.label}: {caption}" if self.label else caption)
