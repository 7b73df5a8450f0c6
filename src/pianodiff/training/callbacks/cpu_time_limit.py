"""Stop training after a budget of CPU time, so runs that share a machine compare fairly.

``trainer.max_time`` counts wall time, which on a shared machine depends on what else runs.
Runs launched side by side for a study are compared at equal *CPU* time instead: each stops
when it has used ``seconds`` of CPU (all its threads together). The CPU used is saved in
every checkpoint, so a run resumed with ``ckpt_path=`` (a later session, another machine)
continues the same budget instead of starting a new one.
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class CpuTimeLimit(L.Callback):
    """Ask the trainer to stop once training has used ``seconds`` of CPU time.

    ``seconds=None`` disables the limit (the CPU used is still logged). The stop is a normal
    end of training, so the end-of-training checkpoint and export still happen.
    """

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self._start = time.process_time()
        self._used_before = 0.0  # by the runs this one resumes

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.process_time()

    def used(self) -> float:
        """CPU seconds of training so far, including the runs this one resumed."""
        return self._used_before + time.process_time() - self._start

    def state_dict(self) -> dict[str, float]:
        return {"cpu_seconds": self.used()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._used_before = float(state_dict.get("cpu_seconds", 0.0))

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any
    ) -> None:
        used = self.used()
        pl_module.log("train/cpu_seconds", used)
        if self.seconds is not None and used >= self.seconds:
            trainer.should_stop = True
