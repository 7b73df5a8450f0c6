"""What shipped exports record about their origin: paths a reader can follow, none of the
builder's machine paths (the export writes them relative to the run, and the shipped
``config.yaml`` files hold no absolute path)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hostile import SCHEDULE, TINY

from pianodiff.checkpoint.export import load_export
from pianodiff.checkpoint.from_training import export_checkpoint, recorded_path
from pianodiff.nets import DiffWave

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*/config.yaml"))
# An absolute path anywhere in the text (a value or inside a note): a slash that starts a
# path of two or more parts and follows no word character (so data/piano14/train passes),
# a home folder, or a Windows drive.
ABSOLUTE = re.compile(r"(?<![\w.~/-])/[\w.-]+/[\w.-]+|~/|\b[A-Za-z]:[\\/]")


def test_every_shipped_export_is_checked():
    assert {p.parent.name for p in SHIPPED} >= {"piano14-ctx", "piano14-small"}


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.parent.name)
def test_no_shipped_config_holds_an_absolute_path(config):
    found = [(n, m[0]) for n, line in enumerate(config.read_text().splitlines(), 1)
             for m in ABSOLUTE.finditer(line)]  # fmt: skip
    assert not found, f"{config}: absolute paths at (line, path) {found}"


def test_the_grep_finds_what_it_must():
    for line in ["source: /work/main/outputs/a.ckpt", "'(/home/me/x)'", "C:\\runs\\a", "~/a"]:
        assert ABSOLUTE.search(line), line
    for line in ["data: data/piano14/train (14 files)", "lr 1e-3/2", "0.5 s x 8 crops"]:
        assert not ABSOLUTE.search(line), line


def tiny_checkpoint(path: Path) -> Path:
    """A training checkpoint as the trainer writes it, with a tiny net's EMA weights."""
    net = DiffWave(**{k: v for k, v in TINY.items() if k != "_target_"})
    state = {f"ema.net.{k}": v for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": state, "global_step": 7,
                "pianodiff": {"model": TINY, "diffusion": SCHEDULE}}, path)  # fmt: skip
    return path


def test_export_records_its_source_relative_to_the_run(tmp_path, monkeypatch):
    ckpt = tiny_checkpoint(tmp_path / "outputs" / "piano14" / "run1" / "checkpoints" / "last.ckpt")
    monkeypatch.chdir(tmp_path)  # exported from the project root, as the README does
    meta = load_export(export_checkpoint(ckpt.resolve(), tmp_path / "a")).config.meta
    assert meta.source_checkpoint == "outputs/piano14/run1/checkpoints/last.ckpt"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a checkpoint outside the working folder: from its run on
    meta = load_export(export_checkpoint(ckpt, tmp_path / "b")).config.meta
    assert meta.source_checkpoint == "run1/checkpoints/last.ckpt" and meta.steps == 7
    text = (tmp_path / "b" / "config.yaml").read_text()
    assert str(tmp_path) not in text and not ABSOLUTE.search(text)


def test_a_folder_outside_the_working_folder_is_recorded_by_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert recorded_path(tmp_path / "data" / "piano14" / "train") == "data/piano14/train"
    assert recorded_path("/srv/recordings/piano") == "piano"
