"""The studies that read checkpoints (training report, lever study) under hostile files:
exit 1 with one line, nothing written, the payload never run."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from conftest import SR, tone
from hostile import PICKLE_KINDS, evil_checkpoint, evil_export, one_line, victim_file

from pianodiff.checkpoint.export import CheckpointError
from studies import lever_study as lever_study_module
from studies import training_report


@pytest.fixture(scope="module")
def lever_study():
    return vars(lever_study_module)


@pytest.mark.parametrize("kind", ["torch_load", "open_write"])
def test_training_report_refuses_a_hostile_export(kind, tmp_path, capsys):
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, marker, victim)
    out = tmp_path / "img"
    capsys.readouterr()
    code = training_report.main(
        ["--run", str(tmp_path), "--export", str(export), "--out", str(out)]
    )
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
