"""Every option of every training config group composes and instantiates."""

from __future__ import annotations

from importlib.resources import files

import lightning as L
import pytest
from hydra.utils import instantiate

from pianodiff.data.datamodule import AudioDataModule
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.training.lit_module import DiffWaveModule
from pianodiff.training.run import compose_train_config

CONF = files("pianodiff.conf")
GROUPS = ("data", "model", "diffusion", "trainer", "logger", "callbacks", "experiment", "debug")


def options(group: str) -> list[str]:
    return sorted(p.name[:-5] for p in CONF.joinpath(group).iterdir() if p.name.endswith(".yaml"))


def build(cfg, tmp_path) -> dict:
    """Instantiate the parts ``train`` builds (without data loading or fitting)."""
    net = instantiate(cfg.model)
    schedule = instantiate(cfg.diffusion)
    module = instantiate(cfg.module, _partial_=True)(net=net, schedule=schedule)
    data = instantiate(cfg.data)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    # precision: auto is settled by train() from a timed step (training/precision_probe.py)
    settled = {"precision": "32-true"} if cfg.trainer.get("precision") == "auto" else {}
    trainer = instantiate(cfg.trainer, _partial_=True)(
        callbacks=callbacks, logger=logger, default_root_dir=str(tmp_path), **settled
    )
    return {"net": net, "schedule": schedule, "module": module, "data": data, "trainer": trainer}


CASES = [(g, o) for g in GROUPS for o in options(g)]


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), group
    assert {"cpu", "gpu", "ddp"} <= set(options("trainer"))
    assert {"piano14", "smoke"} <= set(options("experiment"))
    assert {"wandb", "csv"} <= set(options("logger"))


@pytest.mark.parametrize("group,option", CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_option_instantiates(group, option, tmp_path):
    extra = ["data.root=/somewhere"] if (group, option) == ("data", "folder") else []
    cfg = compose_train_config(
        [f"{group}={option}", f"paths.output_dir={tmp_path}", f"paths.run_dir={tmp_path}/run"]
        + extra
    )
    if group == "trainer" and option == "gpu" and not _has_gpu():
        # Lightning refuses a GPU trainer without a GPU; check what can be checked here.
        assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision in (
            "bf16-mixed",
            "16-mixed",
            "32-true",
        )
        return
    parts = build(cfg, tmp_path)
    assert isinstance(parts["schedule"], NoiseSchedule)
    assert isinstance(parts["module"], DiffWaveModule)
    assert isinstance(parts["data"], AudioDataModule)
    assert isinstance(parts["trainer"], L.Trainer)
    assert parts["net"].num_parameters() > 0


def test_paths_are_absolute_from_any_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIANODIFF_ROOT", raising=False)
    cfg = compose_train_config([])
    assert cfg.paths.data_dir == str(tmp_path / "data")
    assert cfg.data.root == str(tmp_path / "data" / "piano14" / "train")
    monkeypatch.setenv("PIANODIFF_ROOT", "/opt/pd")
    cfg = compose_train_config(["data.root=/my/audio"])
    assert cfg.paths.checkpoints_dir == "/opt/pd/checkpoints" and cfg.data.root == "/my/audio"
    assert cfg.paths.run_dir.startswith("/opt/pd/outputs/default/")


def test_experiments_set_what_they_promise():
    cfg = compose_train_config(["experiment=piano14"])
    assert cfg.model.residual_layers == 30 and cfg.model.residual_channels == 64
    assert cfg.diffusion.num_steps == 200 and cfg.data.segment_seconds == 5.0
    smoke = compose_train_config(["experiment=smoke"])
    assert smoke.model.residual_channels == 8 and smoke.trainer.max_steps <= 10
    anneal = compose_train_config(["experiment=piano14_cpu_anneal"])
    stage1 = compose_train_config(["experiment=piano14_cpu"])
    assert anneal.model == stage1.model and anneal.diffusion == stage1.diffusion
    assert anneal.init_from.endswith("checkpoints/piano14-small") and stage1.init_from is None
    assert anneal.module.optimizer.lr < stage1.module.optimizer.lr
    assert anneal.data.segment_seconds * anneal.data.batch_size == pytest.approx(
        stage1.data.segment_seconds * stage1.data.batch_size
    )
    ctx = compose_train_config(["experiment=piano14_cpu_ctx"])
    pooled = compose_train_config(["experiment=piano14_melodies_cpu_ctx"])
    # the pooled recipe changes only the training data: same net, crops and masks, and it
    # validates on the held-out piano14 pieces alone, so its loss compares with ctx's
    assert pooled.model == ctx.model and pooled.module == ctx.module
    assert [r.rsplit("/", 2)[-2:] for r in pooled.data.root] == [
        ["piano14", "train"],
        ["melodies", "train"],
    ]
    assert pooled.data.val_root == ctx.data.val_root
    assert pooled.data.val_crops_per_file == ctx.data.val_crops_per_file
    assert pooled.data.segment_seconds == ctx.data.segment_seconds == 1.0
    # the long-crop successor: 2.5 s crops, validated on the same 1 s held-out crops
    long = compose_train_config(["experiment=piano14_melodies_cpu_ctx_long"])
    assert long.model == pooled.model and long.module == pooled.module
    assert (long.data.segment_seconds, long.data.batch_size) == (2.5, 2)
    assert long.data.val_segment_seconds == pooled.data.val_segment_seconds == 1.0
    assert long.data.root == pooled.data.root and long.data.val_root == pooled.data.val_root
    debug = compose_train_config(["experiment=piano14", "debug=fast"])
    assert debug.trainer.max_steps == 5  # debug is applied after the experiment


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def test_cpu_precision_is_left_to_measurement():
    cfg = compose_train_config(["trainer=cpu"])
    # No CPU flag decides: train() times a step in both precisions (tests/test_train_precision.py).
    assert cfg.trainer.precision == "auto"
    forced = compose_train_config(["trainer=cpu", "trainer.precision=bf16-mixed"])
    assert forced.trainer.precision == "bf16-mixed"
