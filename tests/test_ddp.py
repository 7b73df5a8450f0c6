"""DDP: `trainer=ddp` fits with 2 CPU processes (gloo) through the real CLI, one run dir."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from pianodiff.checkpoint.export import load_export
from pianodiff.checkpoint.from_training import load_training_checkpoint


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, audio_folder):
    env = {**os.environ, "WANDB_MODE": "offline", "PIANODIFF_ROOT": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "pianodiff.train",
        "experiment=smoke",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "data=folder",
        f"data.root={audio_folder}",
        "data.segment_seconds=0.1",
        "data.batch_size=2",
        "callbacks.demo_sampling=null",
    ]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stdout + done.stderr
    (run,) = (tmp_path / "outputs" / "smoke").iterdir()  # both ranks share one run dir
    assert (run / "train_ddp_process_1.log").is_file()  # rank 1 ran inside it
    ckpt = load_training_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2
    assert all(
        torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point()
    )
    assert load_export(run / "export").config.meta.world_size == 2
