"""How the trainer writes and reads ``.ckpt`` files: atomically, and without running code.

Lightning's own writer stages a checkpoint in the system temp folder and moves it into
place; where that folder is another file system the move is a copy, so a kill during it
leaves a truncated ``last.ckpt`` (and the temp behind). Here the temp lies beside the
target and is renamed onto it (``safe_writes.atomic_path``): a kill at any moment leaves either
the previous checkpoint or the new one, and the next write removes a killed writer's temp.

Reading always uses ``torch.load(weights_only=True)``: a pianodiff checkpoint holds only
tensors and plain containers, and a file that would run code when unpickled is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from pianodiff.core.safe_writes import atomic_path

CONFIG_KEY = "pianodiff"
"""The key of a training checkpoint under which the module stores the plain config its
network, schedule and optimiser were built from (read by exports, resumes, warm starts)."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with an atomic local write and a weights-only read."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Callable | str | torch.device | None = "cpu",
        weights_only: bool | None = True,
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)
