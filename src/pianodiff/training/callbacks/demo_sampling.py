"""Every N steps: a short unconditional sample from the EMA weights, heard and seen.

The sample goes through the project's single reverse loop (``diffusion.sampler.sample``)
with the ``Replacement`` inpainter and an empty mask, i.e. plain unconditional sampling,
on a short plan (a ``conf/sampler`` node; DiffWave's 6-step fast schedule by default) so
that it costs seconds. It is written
under the run directory (``demo/step_XXXXXXX.wav`` and ``.png``) and, when the logger is
W&B, logged as audio and a mel-spectrogram image. Its tonality and onset rate (≈ 0.56
tonality for shaped noise, ≈ 0.03 for rendered piano) are logged as ``demo/tonality`` and
``demo/onset_rate``, and, when the optional notes extra is installed, the transcriber's
``demo/note_frames`` and ``demo/notes_per_s`` (without it one line says the measure is off),
so that learning notes shows up as a curve.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import log_mel, write_audio
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import PlanBuilder, fast_plan
from pianodiff.diffusion.sampler import sample
from pianodiff.inpaint.replacement import Replacement
from pianodiff.measures.listening import sample_measures


def save_mel_png(audio: torch.Tensor, path: Path, title: str) -> Path:
    """A log-mel spectrogram picture of (T,) audio, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mel = log_mel(audio.float().cpu()).numpy()
    seconds = len(audio) / SAMPLE_RATE
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]))
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel bin")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


class DemoSampling(L.Callback):
    """Sample ``seconds`` of audio every ``every_n_steps`` training steps.

    Args:
        every_n_steps: interval in optimiser steps (0 disables).
        seconds: length of the demo sample.
        sampler: a ``conf/sampler`` node, instantiated: called with ``schedule=`` it gives
            the plan (composed from ``conf/sampler/`` in ``conf/callbacks/default.yaml``);
            None = DiffWave's fast plan.
        seed: fixed noise seed, so demos at different steps are comparable.
        directory: where the WAV/PNG files go (the run directory's ``demo/``).
        at_fit_end: also sample once when training ends.
    """

    def __init__(
        self,
        every_n_steps: int = 1000,
        seconds: float = 2.0,
        sampler: PlanBuilder | None = None,
        seed: int = 0,
        directory: str = "demo",
        at_fit_end: bool = True,
    ):
        self.every_n_steps = every_n_steps
        self.seconds = seconds
        self.sampler = sampler or fast_plan
        self.seed = seed
        self.directory = Path(directory)
        self.at_fit_end = at_fit_end
        self.written: list[Path] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps > 0 and step > 0 and step % self.every_n_steps == 0:
            self.demo(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.at_fit_end and trainer.global_step > 0:
            last = self.directory / f"step_{trainer.global_step:07d}.wav"
            if last not in self.written:
                self.demo(trainer, pl_module)

    @rank_zero_only
    @torch.no_grad()
    def demo(self, trainer: L.Trainer, pl_module: L.LightningModule) -> torch.Tensor:
        """Sample, write WAV + PNG under the run directory, log them; returns (T,) audio."""
        net = pl_module.ema.net
        plan = self.sampler(schedule=pl_module.schedule)
        n = max(1, round(self.seconds * SAMPLE_RATE))
        device = pl_module.device
        gen = torch.Generator(device=device).manual_seed(self.seed)
        mask = torch.zeros(1, n, device=device)
        ctx = InpaintContext(known=torch.zeros_like(mask), mask=mask, plan=plan, generator=gen)
        audio = sample(Denoiser(net), Replacement(), ctx)[0].float().cpu()
        step = trainer.global_step
        wav = write_audio(self.directory / f"step_{step:07d}.wav", audio, SAMPLE_RATE)
        png = save_mel_png(audio, wav.with_suffix(".png"), f"step {step} ({plan.name}, EMA)")
        self.written.append(wav)
        measures = {f"demo/{k}": v for k, v in sample_measures(audio, SAMPLE_RATE).items()}
        for logger in trainer.loggers:
            logger.log_metrics(measures, step=step)
            if isinstance(logger, WandbLogger):
                logger.log_audio(
                    "demo/audio", [audio.numpy()], step=step, sample_rate=[SAMPLE_RATE]
                )
                logger.log_image("demo/mel", [str(png)], step=step)
        return audio
