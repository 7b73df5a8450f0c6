"""``pianodiff.evaluate`` under hostile input: exit 2, one line naming the problem and the
fix, the working directory as it was (no ``outputs/evaluate/`` run folder), and a hostile
checkpoint's payload never run. In-process, as the console script runs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import SR, tone
from hostile import evil_export, one_line, tree, victim_file
from test_generate import make_export


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("hostile_eval") / "tiny")


def run_main(args: list[str], cwd: Path, monkeypatch) -> int:
    from pianodiff.evaluate import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["evaluate", *args])
    try:
        main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


CASES = [
    # (id, overrides ({ckpt}, {data}, {evil} filled in), substrings of the one line)
    ("export torch_load", ["checkpoint={evil}"], ["refused, nothing was run", "model._target_"]),
    ("export open_write", ["checkpoint={evil}"], ["refused, nothing was run", "model._target_"]),
    (
        "export nested_net",
        ["checkpoint={evil}"],
        ["refused, nothing was run", "model.net._target_"],
    ),
    ("export alias_bomb", ["checkpoint={evil}"], ["refused, nothing was run", "anchors"]),
    ("export deep_nesting", ["checkpoint={evil}"], ["refused, nothing was run", "nested"]),
    (
        "export huge_channels",
        ["checkpoint={evil}"],
        ["refused, nothing was run", "model.residual_channels = 100000000"],
    ),
    (
        "export huge_layers",
        ["checkpoint={evil}"],
        ["refused, nothing was run", "model.residual_layers = 1000000000"],
    ),
    (
        "export huge_steps",
        ["checkpoint={evil}"],
        ["refused, nothing was run", "diffusion.num_steps = 1000000000.0"],
    ),
    (
        "sampler_params as a mapping",
        ["checkpoint={ckpt}", "sampler_params={{ddim:{{num_steps:2}}}}"],  # braces of format()
        ["Hydra cannot merge", "+sampler_params.ddim.num_steps=2"],
    ),
    ("device=foo", ["checkpoint={ckpt}", "device=foo"], ["device=foo is not a device", "use auto"]),
    ("checkpoint missing", ["checkpoint=nowhere"], ["checkpoint not found"]),
    ("untrained:huge", ["checkpoint=untrained:huge"], ["unknown model 'huge'", "choose one of"]),
    (
        "data folder missing",
        ["checkpoint={ckpt}", "data_dir=nowhere"],
        ["held-out audio folder", "make data"],
    ),
    (
        "data folder without audio",
        ["checkpoint={ckpt}", "data_dir={empty}"],
        ["no audio files", "data_dir="],
    ),
    (
        "wandb.enabled=no",
        ["checkpoint={ckpt}", "wandb.enabled=no"],
        ["wandb.enabled must be true or false"],
    ),
    ("bf16=off", ["checkpoint={ckpt}", "bf16=off"], ["bf16 must be true or false"]),
    (
        "unknown extender",
        ["checkpoint={ckpt}", "extenders=[nosuch]"],
        ["nosuch", "replacement"],  # names the bad choice and lists the good ones
    ),
]


@pytest.mark.parametrize("case_id,args,expect", CASES, ids=[c[0] for c in CASES])
def test_refused_with_one_line_and_no_run_folder(
    case_id, args, expect, checkpoint, tmp_path, monkeypatch, capsys
):
    cwd, data, empty = tmp_path / "cwd", tmp_path / "data", tmp_path / "empty"
    for folder in (cwd, data, empty):
        folder.mkdir()
    sf.write(data / "a.wav", tone(4.5), SR)  # long enough for every case
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    evil = (
        evil_export(tmp_path / "evil", case_id.split()[-1], marker, victim)
        if "export" in case_id
        else None
    )
    filled = [a.format(ckpt=checkpoint, data=data, evil=evil, empty=empty) for a in args]
    if not any(a.startswith("data_dir=") for a in filled):
        filled.append(f"data_dir={data}")
    capsys.readouterr()
    assert run_main([*filled, "files=1", "gap.gaps_ms=[150]"], cwd, monkeypatch) == 2
    line = one_line(capsys.readouterr().err)
    for text in expect:
        assert text in line, (text, line)
    assert tree(cwd) == {}  # no outputs/evaluate/<time>/ left for a refused request
    assert not marker.exists() and victim.read_text() == "precious\n"
