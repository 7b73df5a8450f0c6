"""Save ``last.ckpt`` whenever training stops without a fault, so no step is lost.

``ModelCheckpoint`` writes ``last.ckpt`` every N steps only; a run ended by ``max_steps``,
``max_time``, Ctrl-C or SIGTERM would lose up to N − 1 steps. This callback writes it when
training ends and on those interrupts. It never saves after a NaN/inf loss or any other
error: the last good checkpoint must stay the last one.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

INTERRUPTS = (KeyboardInterrupt, SIGTERMException)


class SaveOnStop(L.Callback):
    """Write ``path`` (e.g. ``<run>/checkpoints/last.ckpt``) when training stops cleanly.

    Runs on every rank: ``trainer.save_checkpoint`` writes on rank 0 and synchronises.
    """

    def __init__(self, path: str):
        self.path = Path(path)
        self._saved_step: int | None = None

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step == 0 or trainer.global_step == self._saved_step:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A full checkpoint (optimiser, loops, callbacks): resuming needs all of it. Saying so
        # also keeps Lightning from announcing the default at the end of every run.
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_step = trainer.global_step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, INTERRUPTS):
            self._save(trainer)
