"""Stop training after a budget of CPU time, so runs that share a machine compare fairly.

``trainer.max_time`` counts wall time, which on a shared machine depends on what else runs.
Runs launched side by side for a study are compared at equal *CPU* time instead: each stops
when its own process has used ``seconds`` of CPU (all its threads together).
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class CpuTimeLimit(L.Callback):
    """Ask the trainer to stop once this process has used ``seconds`` of CPU time.

    ``seconds=None`` disables the limit. The stop is a normal end of training, so the
    end-of-training checkpoint and export still happen.
    """

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self._start = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.process_time()

    def used(self) -> float:
        """CPU seconds used since training started."""
        return time.process_time() - self._start

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any
    ) -> None:
        if self.seconds is None:
            return
        used = self.used()
        pl_module.log("train/cpu_seconds", used)
        if used >= self.seconds:
            trainer.should_stop = True
