"""Kills leave nothing lost and nothing behind: atomic writes, temps of killed writers,
SIGTERM, interrupted exports, the trainer's checkpoint writer and refused run folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pianodiff.checkpoint.ckpt_io import AtomicCheckpointIO
from pianodiff.checkpoint.export import CheckpointError, export_model, load_export
from pianodiff.core.safe_writes import (
    RunFolder,
    atomic_path,
    exit_on_sigterm,
    remove_stale,
    temp_suffix,
)
from pianodiff.nets import DiffWave

TINY = {"_target_": "pianodiff.nets.DiffWave", "residual_layers": 2, "residual_channels": 8,
        "dilation_cycle": 2}  # fmt: skip
SCHEDULE = {"_target_": "pianodiff.diffusion.schedule.linear_schedule", "num_steps": 8}
KILLED_WRITER = """
import os, sys
from pianodiff.core.safe_writes import atomic_path
tmp = atomic_path(sys.argv[1]).__enter__()
tmp.write_bytes(b"half a file")
print(tmp, flush=True)
os.kill(os.getpid(), 9)
"""


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_kill_9_mid_write_loses_nothing_and_the_next_write_cleans_up(tmp_path):
    out = tmp_path / "out.wav"
    out.write_bytes(b"the earlier take")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(out)], capture_output=True, text=True, env=env
    )
    assert done.returncode == -signal.SIGKILL
    leftover = Path(done.stdout.strip())
    assert leftover.exists() and hidden(tmp_path) == [leftover.name]
    assert out.read_bytes() == b"the earlier take"  # a kill never touches the destination
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"the new take")
    assert out.read_bytes() == b"the new take" and hidden(tmp_path) == []


def test_a_live_writers_temp_is_kept(tmp_path):
    out = tmp_path / "out.wav"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".out.wav.abc{temp_suffix().replace(str(os.getpid()), str(other.pid))}"
        live.write_bytes(b"another process is writing this")
        foreign = tmp_path / ".out.wav.notours.tmp"  # not our naming: never touched
        foreign.write_bytes(b"x")
        assert remove_stale(out) == []
        assert live.exists() and foreign.exists()
    finally:
        other.kill()
        other.wait()
    assert remove_stale(out) == [live] and foreign.exists()  # its writer has ended now


def test_sigterm_mid_write_removes_the_temp(tmp_path):
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stop, exit_on_sigterm(), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert stop.value.code == 128 + signal.SIGTERM
    assert out.read_bytes() == b"keep me" and hidden(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == before  # restored


def test_export_killed_between_its_renames_is_restored(tmp_path):
    net = DiffWave(2, 8, 2)
    export = export_model(tmp_path / "model", net.state_dict(), TINY, SCHEDULE, {"v": 1})
    os.replace(export, tmp_path / ".model.old")  # the state a kill there leaves
    with pytest.raises(CheckpointError, match="interrupted.*rename .model.old back to model"):
        load_export(tmp_path / "model")
    export_model(tmp_path / "model", net.state_dict(), TINY, SCHEDULE, {"v": 2})
    assert load_export(tmp_path / "model").config.meta.v == 2
    assert hidden(tmp_path) == []


def test_export_refuses_a_config_loading_would_refuse(tmp_path):
    bad = {"_target_": "builtins.open", "_args_": [str(tmp_path / "x"), "w"]}
    with pytest.raises(CheckpointError, match="model._target_ = 'builtins.open'"):
        export_model(tmp_path / "exports" / "model", {}, bad, SCHEDULE)
    assert not (tmp_path / "exports").exists()


def test_checkpoint_writer_is_atomic_and_reads_weights_only(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(2)}, path)

    def dies_half_way(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["global_step"] == 1  # the previous one, whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]

    class Code:
        def __reduce__(self):
            return (print, ("ran",))

    torch.save({"x": Code()}, path)
    with pytest.raises(Exception, match="Weights only load failed"):
        io.load_checkpoint(path, weights_only=False)  # the flag cannot turn the check off


def test_run_folder_removes_only_what_the_run_added(tmp_path):
    run = tmp_path / "outputs" / "mine"
    run.mkdir(parents=True)
    (run / "notes.txt").write_text("the user's own")
    folder = RunFolder(run, tmp_path / "outputs")
    (run / "wandb").mkdir()
    (run / "wandb" / "run.log").write_text("added by the refused run")
    folder.discard()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]

    fresh = tmp_path / "outputs" / "smoke" / "2026_x"
    folder = RunFolder(fresh, tmp_path / "outputs", "train.log")
    (fresh / ".hydra").mkdir(parents=True)
    for name in (".hydra/config.yaml", "train.log", "checkpoints/none"):
        (fresh / name).parent.mkdir(parents=True, exist_ok=True)
        (fresh / name).write_text("x")
    folder.discard()
    assert not (tmp_path / "outputs" / "smoke").exists() and (tmp_path / "outputs").is_dir()
    assert RunFolder(tmp_path, tmp_path).tracked is False  # never the working directory


def test_a_discarded_run_folder_takes_its_log_handlers_with_it(tmp_path):
    """Hydra leaves its job log handler on the root logger after an in-process run; once a
    refused run's folder is removed, later records must not try to reopen the deleted file."""
    import logging

    run = tmp_path / "outputs" / "generate" / "x"
    folder = RunFolder(run, tmp_path / "outputs", "generate.log")
    run.mkdir(parents=True)
    handler = logging.FileHandler(run / "generate.log", delay=True)
    other = logging.FileHandler(tmp_path / "kept.log", delay=True)
    root = logging.getLogger()
    root.addHandler(handler)
    root.addHandler(other)
    try:
        folder.discard()
        assert not run.exists()
        assert handler not in root.handlers and other in root.handlers
        root.warning("after the refused run")  # raised FileNotFoundError before
        assert (tmp_path / "kept.log").read_text().strip() == "after the refused run"
    finally:
        for h in (handler, other):
            root.removeHandler(h)
            h.close()
