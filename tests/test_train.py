"""End to end: the real configs composed and shrunk, a real trainer, W&B offline, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from pianodiff.checkpoint.export import load_export
from pianodiff.conf import ConfigError
from pianodiff.core.resolvers import run_id
from pianodiff.data.datamodule import NoUsableAudioError
from pianodiff.training.run import compose_train_config, set_threads, train


def test_fit_with_wandb_offline_and_demo(tmp_path, smoke_overrides, recwarn):
    cfg = compose_train_config(
        smoke_overrides(
            "trainer.max_steps=4",
            "trainer.val_check_interval=2",
            "logger=wandb",
            "callbacks.demo_sampling.every_n_steps=2",
            "callbacks.demo_sampling.seconds=0.1",
        )
    )
    result = train(cfg)
    run = result["run_dir"]
    assert run.parent == tmp_path / "outputs" / "smoke"
    assert result["global_step"] == 4
    assert all(torch.isfinite(torch.tensor(v)) for v in result["metrics"].values())
    assert result["metrics"]["val/loss"] > 0
    # The demo callback wrote audio + mel picture under the run dir at steps 2 and 4.
    for step in (2, 4):
        assert (run / "demo" / f"step_{step:07d}.wav").stat().st_size > 44
        assert (run / "demo" / f"step_{step:07d}.png").stat().st_size > 1000
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    media = list(offline[0].rglob("*.wav")) + list(offline[0].rglob("*.png"))
    assert media, "demo audio/image were not logged to W&B"
    assert load_export(run / "export").config.meta.steps == 4
    # No warning raised by pianodiff's own code, and none about unsafe checkpoint loading.
    ours = [w for w in recwarn if "/pianodiff/" in w.filename.replace(os.sep, "/")]
    assert not ours, [str(w.message) for w in ours]
    assert not [w for w in recwarn if "weights_only" in str(w.message)]


def test_unknown_option_names_the_choices():
    with pytest.raises(ConfigError, match="model/huge.*choose one of: .*tiny"):
        compose_train_config(["model=huge"])


def test_empty_data_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = compose_train_config(
        [
            "experiment=smoke",
            "data=folder",
            f"data.root={tmp_path / 'empty'}",
            f"paths.output_dir={tmp_path / 'out'}",
        ]
    )
    with pytest.raises(NoUsableAudioError, match=r"no audio files \(\.wav.*\) in data.root /"):
        train(cfg)
    assert not (tmp_path / "out").exists()  # refused before the logger made a run folder


def test_run_ids_never_collide():
    ids = set()
    for _ in range(20):
        run_id.cache_clear()
        ids.add(run_id())
    run_id.cache_clear()
    assert len(ids) == 20  # same second, still distinct
    assert run_id() == run_id()  # stable within a process (Hydra resolves it repeatedly)


def test_threads_default_to_all_cores():
    before = torch.get_num_threads()
    try:
        cfg = compose_train_config(["trainer=cpu"])
        assert set_threads(cfg) == os.cpu_count()
        cfg = compose_train_config(["trainer=cpu", "num_threads=1"])
        assert set_threads(cfg) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_cli_from_another_directory(tmp_path):
    """`python -m pianodiff.train` finds its packaged configs from any cwd; errors are one line."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("PIANODIFF_ROOT", None)
    ok = subprocess.run(
        [sys.executable, "-m", "pianodiff.train", "experiment=smoke", "trainer.max_steps=2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    (run,) = (tmp_path / "outputs" / "smoke").iterdir()
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "export").is_dir()


def test_cli_bad_input_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    """The Hydra entrypoint itself (in-process: a subprocess mostly measures torch imports)."""
    from pianodiff.train import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PIANODIFF_ROOT", raising=False)
    argv = [
        "pianodiff-train",
        "experiment=smoke",
        "data=folder",
        f"data.root={tmp_path / 'nowhere'}",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2  # every entrypoint: a user error exits 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no audio to train on")
    assert "make data" in err[0] and "data.root=" in err[0]
    # refused before Hydra's run folder or a W&B run (wandb-dir is the test's own W&B home)
    assert [p.name for p in tmp_path.iterdir()] == ["wandb-dir"]
    assert not any((tmp_path / "wandb-dir").iterdir())
