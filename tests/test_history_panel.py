"""The training history panel: a real Lightning trainer, the EMA net, an offline W&B logger."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch
from conftest import tone
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from PIL import Image
from torch.utils.data import DataLoader

from pianodiff.conf import CONF_DIR
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender
from pianodiff.inpaint.repaint import RePaint
from pianodiff.nets.diffwave import DiffWave
from pianodiff.training.callbacks.history_panel import HistoryPanel, ema_net
from pianodiff.training.lit_module import DiffWaveModule


def test_sampler_and_extender_are_composed_from_their_config_groups():
    overrides = [
        "experiment=piano14_cpu",
        "sampler@callbacks.history_panel.sampler=ddim",
        "extender@callbacks.history_panel.extender=repaint",
        "callbacks.history_panel.extender.n_resample=3",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("train", overrides=overrides)
    panel = instantiate(cfg.callbacks.history_panel, directory="unused")
    demo = instantiate(cfg.callbacks.demo_sampling, directory="unused")
    schedule = linear_schedule(50)
    assert isinstance(panel.extender, RePaint) and panel.extender.n_resample == 3
    assert panel.sampler(schedule=schedule).name == "ddim20"
    assert demo.sampler(schedule=schedule).name == "ddim20"  # the experiment's choice
    assert HistoryPanel().sampler(schedule=schedule).name == "fast6"


@pytest.mark.slow
def test_history_panel_logs_image_audio_and_animation_under_the_run_dir(tmp_path):
    torch.manual_seed(0)
    module = DiffWaveModule(
        DiffWave(2, 8, 2),
        linear_schedule(20, 1e-4, 0.2),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
    )
    crops = torch.from_numpy(tone(0.3)).reshape(1, -1).repeat(4, 1)  # 4 crops of 0.3 s
    loader = DataLoader(crops, batch_size=2)
    panel = HistoryPanel(
        every_n_steps=2, context_seconds=0.2, new_seconds=0.2,
        extender=build_extender("interpolation"), frames=8,
        directory=str(tmp_path / "run" / "history"),
    )  # fmt: skip
    logger = WandbLogger(save_dir=str(tmp_path / "run"), offline=True, project="pianodiff")
    trainer = L.Trainer(
        max_steps=2, accelerator="cpu", logger=logger, callbacks=[panel],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, log_every_n_steps=1, default_root_dir=str(tmp_path / "run"),
    )  # fmt: skip
    trainer.fit(module, loader, val_dataloaders=loader)  # validation off (limit 0), not missing

    assert ema_net(module) is module.ema.net
    wav = tmp_path / "run" / "history" / "step_0000002.wav"
    assert panel.written == [wav] and wav.is_file()
    assert torch.equal(panel.context, crops[0, :4410])  # the head of the first crop, kept
    with Image.open(wav.with_suffix(".history.gif")) as gif:
        assert 4 <= gif.n_frames <= 8
    with Image.open(wav.with_suffix(".png")) as png:  # 4 history frames side by side
        assert png.size[0] > 3 * png.size[1]
    logger.experiment.finish()
    media = next((tmp_path / "run" / "wandb").glob("offline-run-*")) / "files" / "media"
    assert len(list((media / "images").glob("history/panel_*.png"))) == 1
    assert len(list((media / "audio").glob("history/audio_*.wav"))) == 1
    assert len(list((media / "videos").glob("history/animation_*.gif"))) == 1
