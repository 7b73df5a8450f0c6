"""The scripts that read checkpoints (export, training report, lever study) under hostile
files: exit 1 with one line, nothing written, the payload never run. In-process through
``runpy`` (a subprocess would mostly import torch)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from hostile import PICKLE_KINDS, SCHEDULE, evil_checkpoint, evil_export, one_line, victim_file

from pianodiff.checkpoint.export import CheckpointError

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def export_script():
    return runpy.run_path(str(SCRIPTS / "export_checkpoint.py"), run_name="script")


@pytest.fixture(scope="module")
def lever_study():
    return runpy.run_path(str(SCRIPTS / "lever_study.py"), run_name="script")


def foreign_target_checkpoint(path: Path, victim: Path) -> Path:
    """A weights-only-loadable .ckpt whose model config names builtins.open."""
    model = {"_target_": "builtins.open", "_args_": [str(victim), "w"]}
    ckpt = {"state_dict": {"ema.net.w": torch.zeros(1)}, "global_step": 1,
            "pianodiff": {"model": model, "diffusion": SCHEDULE}}  # fmt: skip
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("kind", [*PICKLE_KINDS, "foreign_target", "missing"])
def test_export_script_refuses(kind, export_script, tmp_path, capsys):
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    ckpt = tmp_path / "in.ckpt"
    if kind == "foreign_target":
        foreign_target_checkpoint(ckpt, victim)
    elif kind != "missing":
        evil_checkpoint(ckpt, marker, kind)
    out = tmp_path / "exported"
    capsys.readouterr()
    assert export_script["main"]([str(ckpt), str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    expect = "checkpoint not found" if kind == "missing" else "refused, nothing was run"
    assert expect in line and str(ckpt) in line
    assert not out.exists() and not list(tmp_path.glob(".exported*"))
    assert not marker.exists() and victim.read_text() == "precious\n"


@pytest.mark.parametrize("kind", ["torch_load", "open_write"])
def test_training_report_refuses_a_hostile_export(kind, tmp_path, capsys):
    script = runpy.run_path(str(SCRIPTS / "training_report.py"), run_name="script")
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, marker, victim)
    out = tmp_path / "img"
    capsys.readouterr()
    code = script["main"](["--run", str(tmp_path), "--export", str(export), "--out", str(out)])
    assert code == 1
    assert "refused, nothing was run" in one_line(capsys.readouterr().err)
    assert not out.exists() and not marker.exists() and victim.read_text() == "precious\n"


@pytest.mark.parametrize("kind", PICKLE_KINDS)
def test_lever_study_reads_steps_weights_only(kind, lever_study, tmp_path):
    marker = tmp_path / "marker"
    ckpt = evil_checkpoint(tmp_path / "evil.ckpt", marker, kind)
    with pytest.raises(CheckpointError, match="refused, nothing was run"):
        lever_study["steps_and_pace"](ckpt, None)
    with pytest.raises(CheckpointError, match="refused, nothing was run"):
        lever_study["load_nets"](ckpt)
    assert not marker.exists()


def test_lever_study_nets_of_a_hostile_export(lever_study, tmp_path):
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", "open_write", marker, victim)
    with pytest.raises(CheckpointError, match="model._target_ = 'builtins.open'"):
        lever_study["load_nets"](export)
    assert victim.read_text() == "precious\n"


def test_lever_study_report_exits_1_on_a_hostile_start(lever_study, tmp_path, capsys):
    data = tmp_path / "data"
    for split in ("train", "eval"):
        (data / split).mkdir(parents=True)
        sf.write(data / split / "a.wav", tone(1.5), SR)
    marker = tmp_path / "marker"
    init = evil_checkpoint(tmp_path / "start.ckpt", marker, "zip")
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.json").write_text(json.dumps({"meta": {"init": str(init)}, "runs": {}}))
    before = sorted(p.name for p in study.iterdir())
    args = ["report", "--study", str(study), "--data", str(data), "--out", str(tmp_path / "o")]
    capsys.readouterr()
    assert lever_study["main"]([*args, "--crops", "2"]) == 1
    assert "would run code when loaded" in one_line(capsys.readouterr().err)
    assert not marker.exists() and sorted(p.name for p in study.iterdir()) == before
    assert not (tmp_path / "o").exists()
