"""Checkpoints: config inside, export round trip bit-exact, one-line errors, NaN stop."""

from __future__ import annotations

import runpy
from pathlib import Path

import lightning as L
import pytest
import soundfile as sf
import torch
from conftest import SR, smoke_train_overrides, tone

from pianodiff.checkpoint.ckpt_io import CONFIG_KEY
from pianodiff.checkpoint.export import CheckpointError, load_export
from pianodiff.checkpoint.from_training import export_checkpoint, load_training_checkpoint
from pianodiff.training.lit_module import NonFiniteLossError
from pianodiff.training.run import compose_train_config, train

ROOT = Path(__file__).resolve().parents[1]


def smoke(tmp_path, audio_folder, *extra):
    return compose_train_config(
        smoke_train_overrides(
            tmp_path,
            audio_folder,
            f"paths.run_dir={tmp_path / 'run'}",
            "trainer.max_steps=3",
            "trainer.val_check_interval=3",
            "callbacks.last_checkpoint.every_n_train_steps=1",
            "callbacks.demo_sampling=null",
            *extra,
        )
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short fit shared by the tests of this file (training is the slow part)."""
    root = tmp_path_factory.mktemp("trained")
    folder = root / "audio"
    folder.mkdir()
    for i, freqs in enumerate([(220.0, 277.2), (261.6, 329.6), (196.0, 246.9)]):
        sf.write(folder / f"piece{i}.wav", tone(1.0, freqs), SR)
    result = train(smoke(root, folder))
    return result, root / "run"


def test_checkpoint_carries_config_and_export_is_bit_exact(trained, tmp_path):
    result, run = trained
    ckpt = load_training_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt[CONFIG_KEY]["model"]["residual_layers"] == 4
    assert ckpt[CONFIG_KEY]["diffusion"]["num_steps"] == 50
    assert (run / "checkpoints" / "best.ckpt").is_file()

    out = export_checkpoint(run / "checkpoints" / "last.ckpt", tmp_path / "exported")
    loaded = load_export(out)
    ema = result["module"].ema.net.state_dict()
    for name, tensor in loaded.net.state_dict().items():
        assert torch.equal(tensor, ema[name]), name
    assert loaded.config.meta.steps == 3 and loaded.schedule.num_steps == 50

    auto = load_export(run / "export")  # written by ExportOnFitEnd when fit ended
    meta = auto.config.meta
    assert meta.steps == 3 and meta.sample_rate == 22050 and meta.train_hours > 0
    assert "val/loss" in meta.val_losses and "cpu" in meta.hardware
    assert torch.backends.cpu.get_cpu_capability() in meta.hardware and "files" in meta.data
    assert meta.data.startswith("audio: ")  # the data folder by name, not the builder's path
    for name, tensor in auto.net.state_dict().items():
        assert torch.equal(tensor, ema[name]), name


def test_export_script(trained, tmp_path, capsys):
    _, run = trained
    out = tmp_path / "cli_export"
    # In-process (a subprocess would spend most of its time importing torch).
    script = runpy.run_path(str(ROOT / "scripts" / "export_checkpoint.py"), run_name="script")
    assert script["main"]([str(run / "checkpoints" / "last.ckpt"), str(out)]) == 0
    assert (out / "model.safetensors").is_file()
    bad = tmp_path / "corrupt.ckpt"
    bad.write_bytes(b"\x00garbage")
    capsys.readouterr()
    assert script["main"]([str(bad), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "corrupt" in err and str(bad) in err
    assert (out / "model.safetensors").is_file()  # the earlier export is untouched


def test_corrupt_and_foreign_checkpoints(tmp_path):
    corrupt = tmp_path / "c.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_training_checkpoint(corrupt)
    foreign = tmp_path / "f.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError, match="not a pianodiff training checkpoint"):
        load_training_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        load_training_checkpoint(tmp_path / "missing.ckpt")


def test_resume_with_another_architecture_is_one_line(trained, tmp_path, audio_folder):
    _, run = trained
    cfg = smoke(tmp_path, audio_folder, "model=small", f"ckpt_path={run}")
    assert not (tmp_path / "run").exists()
    with pytest.raises(CheckpointError, match="trained with model") as err:
        train(cfg)
    assert "\n" not in str(err.value)


class PoisonAtStep(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 2:
            with torch.no_grad():
                pl_module.net.output_projection.bias.fill_(float("inf"))


def test_nan_loss_keeps_last_good_checkpoint(tmp_path, audio_folder):
    cfg = smoke(
        tmp_path,
        audio_folder,
        "+callbacks.poison._target_=test_checkpoint.PoisonAtStep",
        "trainer.max_steps=5",
    )
    with pytest.raises(NonFiniteLossError, match="at step 2"):
        train(cfg)
    last = load_training_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 2
    assert all(
        torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point()
    )
    assert not (tmp_path / "run" / "export").exists()  # nothing exported from a failed fit


def test_an_export_is_readable_by_others_as_a_plain_file_would_be(tmp_path):
    """Exports are meant to be shared: no file of one keeps the temp writers' 0600 mode."""
    import os
    import stat

    from pianodiff.checkpoint.export import export_model

    mask = os.umask(0o022)
    try:
        folder = export_model(
            tmp_path / "shared",
            {"w": torch.zeros(2)},
            {"_target_": "pianodiff.nets.DiffWave", "residual_layers": 2},
            {"_target_": "pianodiff.diffusion.schedule.linear_schedule", "num_steps": 10},
        )
    finally:
        os.umask(mask)
    for path in [folder, *folder.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path
