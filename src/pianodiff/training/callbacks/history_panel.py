"""Every N training steps: a short extension with the EMA weights, recorded and shown.

The known context is the head of the first training crop this callback sees (kept, so the
panels of different steps continue the same audio and compare). The extension runs the
project's single reverse loop (``diffusion.sampler.sample``) with an extender and a
sampler composed from ``conf/extender/`` and ``conf/sampler/`` (replacement on the fast
plan by default), with a :class:`HistoryRecorder` as callback.
Written under the run directory (``history/step_XXXXXXX.*``):

    .wav            the extended window (context + new audio)
    .history.gif    the diffusion history animation
    .png            the panel: history frames from noise to the result, side by side

and, when a logger is W&B, logged as ``history/panel`` (image), ``history/audio`` and
``history/animation`` (video from the GIF file). Rank zero only, under ``torch.no_grad``;
errors propagate (a broken demo must not go unnoticed).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import write_audio
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import PlanBuilder, fast_plan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.generation.windows import context_batch
from pianodiff.history.recorder import HistoryRecorder
from pianodiff.history.renderer import render_history, snapshot_strip
from pianodiff.inpaint.replacement import Replacement


def ema_net(pl_module: L.LightningModule) -> torch.nn.Module:
    """The EMA network of the training module (``DiffWaveModule.ema.net``), else its net."""
    ema = getattr(pl_module, "ema", None)
    return ema.net if ema is not None else pl_module.net


def noise_schedule(pl_module: L.LightningModule) -> NoiseSchedule:
    """The training noise schedule of the module (``DiffWaveModule.schedule``)."""
    return pl_module.schedule


class HistoryPanel(L.Callback):
    """Extend a fixed real context every ``every_n_steps`` steps and log its history.

    Args:
        every_n_steps: interval in optimiser steps (0 disables).
        context_seconds: known audio at the head of the window (taken from a training crop;
            shorter when the crop is shorter).
        new_seconds: audio generated after the context.
        extender: the inpainter (a ``conf/extender`` node, instantiated); None = replacement.
        sampler: a ``conf/sampler`` node, instantiated (called with ``schedule=``); None =
            DiffWave's fast plan.
        frames: history frames kept (the recorder's ``max_frames``).
        seed: noise seed (same noise at every step, so panels compare).
        directory: output folder; None = ``<trainer.log_dir or default_root_dir>/history``.
    """

    def __init__(
        self,
        every_n_steps: int = 2000,
        context_seconds: float = 0.5,
        new_seconds: float = 1.0,
        extender: Inpainter | None = None,
        sampler: PlanBuilder | None = None,
        frames: int = 24,
        seed: int = 0,
        directory: str | None = None,
    ):
        self.every_n_steps = every_n_steps
        self.context_seconds, self.new_seconds = context_seconds, new_seconds
        self.extender = extender or Replacement()
        self.sampler = sampler or fast_plan
        self.frames = frames
        self.seed = seed
        self.directory = Path(directory) if directory else None
        self.context: torch.Tensor | None = None  # (C,) CPU, fixed at the first batch
        self.written: list[Path] = []
        self._last_step = -1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.context is None:
            crop = batch[0] if isinstance(batch, torch.Tensor) else batch[0][0]
            self.context = crop.detach().float().reshape(-1).cpu()
            self.context = self.context[: round(self.context_seconds * SAMPLE_RATE)].clone()
        step = trainer.global_step
        due = self.every_n_steps > 0 and step > 0 and step % self.every_n_steps == 0
        if due and step != self._last_step:  # once per step, also with grad accumulation
            self._last_step = step
            self.panel(trainer, pl_module)

    def out_dir(self, trainer: L.Trainer) -> Path:
        if self.directory is not None:
            return self.directory
        return Path(trainer.log_dir or trainer.default_root_dir) / "history"

    @rank_zero_only
    @torch.no_grad()
    def panel(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Path]:
        """Run the extension, write its files, log them; returns {"wav", "gif", "png"}."""
        if self.context is None:
            raise RuntimeError("history panel has no context yet: no training batch was seen")
        device = pl_module.device
        net = ema_net(pl_module)
        plan = self.sampler(schedule=noise_schedule(pl_module))
        c, n = len(self.context), max(1, round(self.new_seconds * SAMPLE_RATE))
        known, mask = context_batch(self.context.to(device), n)
        inpainter = self.extender
        gen = torch.Generator(device=device).manual_seed(self.seed)
        ctx = InpaintContext(known=known, mask=mask, plan=plan, generator=gen)
        step = trainer.global_step
        recorder = HistoryRecorder(self.frames, label=f"{inpainter.name} · step {step}")
        moves = len(inpainter.walk(plan)) - 1
        recorder.start_window(0, 0, [c] if c > 0 else [], f"step {step} (EMA)", num_moves=moves)
        was_training = net.training
        net.eval()
        try:
            audio = sample(Denoiser(net), inpainter, ctx, callback=recorder)[0].float().cpu()
        finally:
            net.train(was_training)
        wav = write_audio(self.out_dir(trainer) / f"step_{step:07d}.wav", audio, SAMPLE_RATE)
        gif = render_history(recorder, wav, fps=6.0, width_px=560, height_px=380, mp4=False)[0]
        png = snapshot_strip(recorder, wav.with_suffix(".png"), count=4)
        self.written.append(wav)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                import wandb

                caption = f"step {step}, {inpainter.name}, {plan.name}, EMA"
                logger.experiment.log(
                    {
                        "history/panel": wandb.Image(str(png), caption=caption),
                        "history/audio": wandb.Audio(
                            str(wav), sample_rate=SAMPLE_RATE, caption=caption
                        ),
                        "history/animation": wandb.Video(str(gif), format="gif"),
                        "trainer/global_step": step,
                    }
                )
        return {"wav": wav, "gif": gif, "png": png}
