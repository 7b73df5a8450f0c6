"""``last.ckpt`` by the clock as well as by steps, so a kill loses at most a minute.

The step-based ``last_checkpoint`` writes every N steps: on a CPU, 250 steps are many
minutes. This one rewrites ``last.ckpt`` whenever ``seconds`` of wall time have passed
since its previous write (Lightning's ``train_time_interval``; rank 0 decides for every
rank). The write is atomic (``checkpoint.ckpt_io.AtomicCheckpointIO``), so ``kill -9`` at any
moment leaves the previous ``last.ckpt`` or the new one, never half of one.
"""

from __future__ import annotations

from datetime import timedelta

from lightning.pytorch.callbacks import ModelCheckpoint


class TimedLastCheckpoint(ModelCheckpoint):
    """Write ``<dirpath>/last.ckpt`` every ``seconds`` of training (0: every step).

    Args:
        dirpath: the run's checkpoint folder.
        seconds: wall-clock seconds between writes; at most this much training is lost.
    """

    def __init__(self, dirpath: str, seconds: float = 60.0):
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        super().__init__(
            dirpath=dirpath,
            save_top_k=0,
            save_last=True,
            train_time_interval=timedelta(seconds=seconds),
            save_on_train_epoch_end=False,
            enable_version_counter=False,  # overwrite last.ckpt, never last-v1.ckpt
        )
        self.seconds = float(seconds)
