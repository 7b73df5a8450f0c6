"""Held-out loss beside the losses of two estimators that know nothing about music.

At every validation the EMA network's L1 ε-loss on fixed held-out crops is logged next to
"predict zero" (≈ 0.80) and a Wiener filter built from the training set's average power
spectrum, on the very same draws (``evaluation.reference_loss``). A model at the Wiener
figure has learned the average spectrum and nothing more; the gap below it is what the
network has learned about music.
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only

from pianodiff.evaluation.reference_loss import average_power_spectrum, held_out_losses


class ReferenceLosses(L.Callback):
    """Log ``val/ref_model``, ``val/ref_wiener`` and ``val/ref_zero`` at each validation.

    Args:
        max_crops: held-out crops used (the first of the validation loader, fixed).
        repeats: noise draws per crop (t spread evenly over the schedule).
    """

    def __init__(self, max_crops: int = 16, repeats: int = 4):
        self.max_crops = max_crops
        self.repeats = repeats
        self.spectrum: torch.Tensor | None = None
        self.crops: torch.Tensor | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        clips = getattr(trainer.datamodule, "train_clips", None)
        if clips:
            self.spectrum = average_power_spectrum(clip.audio for clip in clips)

    @rank_zero_only
    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.spectrum is None or trainer.sanity_checking:
            return
        if self.crops is None:
            batches, count = [], 0
            for batch in trainer.datamodule.val_dataloader():
                batches.append(batch.float())
                count += len(batch)
                if count >= self.max_crops:
                    break
            self.crops = torch.cat(batches)[: self.max_crops]
        net = pl_module.ema.net
        losses = held_out_losses(
            self.crops.to(pl_module.device), pl_module.schedule, self.spectrum, net, self.repeats
        )
        for logger in trainer.loggers:
            logger.log_metrics(
                {f"val/ref_{name}": value for name, value in losses.items()},
                step=trainer.global_step,
            )
