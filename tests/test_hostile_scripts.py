"""The export script under hostile files: exit 1 with one line, nothing written, the
payload never run. In-process through ``runpy`` (a subprocess would mostly import torch)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch
from hostile import PICKLE_KINDS, SCHEDULE, evil_checkpoint, one_line, victim_file

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def export_script():
    return runpy.run_path(str(SCRIPTS / "export_checkpoint.py"), run_name="script")


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
