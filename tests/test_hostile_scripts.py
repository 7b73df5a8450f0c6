"""The export and model-card scripts under hostile files and requests: exit 1 with one
line, nothing written or clobbered, the payload never run. In-process through ``runpy``
(a subprocess would mostly import torch)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch
from conftest import SR
from hostile import (
    PICKLE_KINDS,
    SCHEDULE,
    TINY,
    evil_checkpoint,
    evil_export,
    one_line,
    tree,
    victim_file,
)

from pianodiff.checkpoint.export import export_model, load_export
from pianodiff.nets import DiffWave

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


def good_checkpoint(path: Path) -> Path:
    """A small real training checkpoint: EMA and raw weights of DiffWave(2, 8, 2)."""
    state = DiffWave(2, 8, 2).state_dict()
    ckpt = {"state_dict": {**{f"net.{k}": v for k, v in state.items()},
                           **{f"ema.net.{k}": v for k, v in state.items()}},
            "global_step": 3, "pianodiff": {"model": TINY, "diffusion": SCHEDULE}}  # fmt: skip
    torch.save(ckpt, path)
    return path


def destination(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """(export destination, what the one line must say) of a destination that exporting
    there would clobber."""
    if kind == "file":
        (tmp_path / "afile").write_text("mine\n")
        return tmp_path / "afile", "afile is a file, not an export folder"
    if kind == "under_a_file":
        (tmp_path / "afile").write_text("mine\n")
        return tmp_path / "afile" / "sub", "afile is a file, so"
    if kind == "folder_of_other_things":
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("mine\n")
        return tmp_path / "mine", "holding other things than an export (notes.txt)"
    return Path("."), "names no folder of its own"  # the working folder, tmp_path


@pytest.mark.parametrize("kind", ["file", "under_a_file", "folder_of_other_things", "dot"])
def test_export_script_never_clobbers_its_destination(
    kind, export_script, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    ckpt = good_checkpoint(tmp_path / "last.ckpt")
    out, expect = destination(kind, tmp_path)
    before = tree(tmp_path)
    capsys.readouterr()
    assert export_script["main"]([str(ckpt), str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert expect in line and "choose a new folder" in line, line
    assert tree(tmp_path) == before  # no .old, no temp folder, the user's file as it was


def test_export_script_replaces_an_earlier_export(export_script, tmp_path):
    """The control: exporting into a folder that holds an export (and its card) replaces it."""
    ckpt = good_checkpoint(tmp_path / "last.ckpt")
    out = tmp_path / "export"
    assert export_script["main"]([str(ckpt), str(out)]) == 0
    (out / "MODEL_CARD.md").write_text("an older card\n")
    assert export_script["main"]([str(ckpt), str(out), "--note", "again"]) == 0
    assert load_export(out).config.meta.note == "again"
    assert not list(tmp_path.glob(".export*"))  # no .old, no temp folder


@pytest.fixture
def exported(tmp_path) -> Path:
    """A real export with its card, written by the two scripts."""
    out = export_model(
        tmp_path / "export", DiffWave(2, 8, 2).state_dict(), TINY, SCHEDULE, {"sample_rate": SR}
    )
    script = runpy.run_path(str(SCRIPTS / "write_model_card.py"), run_name="script")
    assert script["main"]([str(out)]) == 0
    return out


CARD_REFUSALS = [
    # (--set items, what the one line must say)
    (["note=${oc.env:HOME}"], "an interpolation would be resolved"),
    (["notes=see ${oc.env:HOME} there"], "an interpolation would be resolved"),
    (["sample_rate=abc"], "meta.sample_rate must be a whole number of Hz"),
    (["sample_rate=0"], "meta.sample_rate must be a whole number of Hz"),
    (["val_losses=abc"], "meta.val_losses must map loss names to numbers"),
    (["val_losses.val/loss=low"], "meta.val_losses must map loss names to numbers"),
    (["steps.x y=1"], "write --set key=value"),
    (["=x"], "write --set key=value"),
    (["recipe"], "write --set key=value"),
    (["recipe=ok", "steps=${now:}"], "an interpolation would be resolved"),  # all or nothing
]


@pytest.mark.parametrize("items,expect", CARD_REFUSALS, ids=[c[0][-1] for c in CARD_REFUSALS])
def test_model_card_script_refuses_in_one_line_and_changes_nothing(items, expect, exported, capsys):
    script = runpy.run_path(str(SCRIPTS / "write_model_card.py"), run_name="script")
    before = tree(exported)
    capsys.readouterr()
    args = [str(exported)] + [a for item in items for a in ("--set", item)]
    assert script["main"](args) == 1
    assert expect in one_line(capsys.readouterr().err)
    assert tree(exported) == before


@pytest.mark.parametrize("kind", ["alias_bomb", "huge_channels", "huge_steps", "open_write"])
def test_model_card_script_refuses_a_hostile_export(kind, tmp_path, capsys):
    script = runpy.run_path(str(SCRIPTS / "write_model_card.py"), run_name="script")
    victim = victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, tmp_path / "marker", victim)
    before = tree(export)
    capsys.readouterr()
    assert script["main"]([str(export), "--set", "notes=x"]) == 1
    assert "refused, nothing was run" in one_line(capsys.readouterr().err)
    assert tree(export) == before and victim.read_text() == "precious\n"


def test_model_card_script_sets_typed_values(exported):
    """The control: values are read as YAML scalars; text with a colon stays text."""
    script = runpy.run_path(str(SCRIPTS / "write_model_card.py"), run_name="script")
    sets = ["steps=4000", "recipe=Trained on: piano14", "val_losses.val/loss=0.5", "note=null"]
    assert script["main"]([str(exported), *(a for s in sets for a in ("--set", s))]) == 0
    meta = load_export(exported).config.meta
    assert meta.steps == 4000 and meta.recipe == "Trained on: piano14"
    assert meta.note is None and meta.val_losses["val/loss"] == 0.5
    card = (exported / "MODEL_CARD.md").read_text()
    assert "| training steps | 4000 |" in card and "| recipe | Trained on: piano14 |" in card
