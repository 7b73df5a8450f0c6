"""``pianodiff.generate`` under hostile input: exit 2, one line naming the problem and the
fix, and the working directory byte-for-byte as it was (no audio, no sidecar, no Hydra run
folder, no temp file); a hostile checkpoint's payload never runs.

The entrypoint runs in-process (as the console script does): a subprocess per case would
mostly measure torch imports.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from hostile import CONFIG_KINDS, evil_export, one_line, tree, victim_file
from safetensors.torch import save_file
from test_generate import FAST, make_export

from pianodiff.nets import DiffWave


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("hostile_gen") / "tiny")


def run_main(args: list[str], cwd: Path, monkeypatch) -> int:
    from pianodiff.generate import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["generate", *FAST, *args])
    try:
        main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


# -- set-ups: each prepares the working directory and returns extra overrides ------------


def existing_output(cwd: Path) -> list[str]:
    (cwd / "out.wav").write_bytes(b"an earlier take")
    (cwd / "out.json").write_text('{"mine": true}')
    return []


def foreign_sidecar(cwd: Path) -> list[str]:
    (cwd / "out.json").write_text('{"not": "pianodiff"}')  # a JSON of the user's own
    return []


def sidecar_folder(cwd: Path) -> list[str]:
    (cwd / "out.json").mkdir()
    return []


def output_folder(cwd: Path) -> list[str]:
    (cwd / "dir.wav").mkdir()
    return ["output=dir.wav"]


def output_under_file(cwd: Path) -> list[str]:
    (cwd / "afile").write_text("x")
    return ["output=afile/x.wav"]


def ground(kind: str) -> Callable[[Path], list[str]]:
    def make(cwd: Path) -> list[str]:
        path = cwd / "g.wav"
        if kind == "text":
            path.write_text("not audio")
        elif kind == "empty":
            sf.write(path, np.zeros(0, dtype=np.float32), SR)
        elif kind == "silent":
            sf.write(path, np.zeros(SR, dtype=np.float32), SR)
        elif kind == "nan":
            wave = tone(0.5)
            wave[100] = np.nan
            sf.write(path, wave, SR, subtype="FLOAT")
        elif kind == "silent_tail":  # sound, then a second of silence: the context is silent
            sf.write(path, np.concatenate([tone(1.0), np.zeros(SR, np.float32)]), SR)
        return [f"ground_file={path.name}"]

    return make


def checkpoint_dir(kind: str) -> Callable[[Path], list[str]]:
    def make(cwd: Path) -> list[str]:
        folder = cwd / "ck"
        if kind == "empty_folder":
            folder.mkdir()
        elif kind == "interrupted":  # killed between the two renames of an export
            make_export(cwd / ".ck.old")
        else:
            make_export(folder)
            if kind == "corrupt_weights":
                (folder / "model.safetensors").write_bytes(b"\x00garbage")
            elif kind == "bad_yaml":
                (folder / "config.yaml").write_text("model: [unclosed\n")
            elif kind == "yaml_list":
                (folder / "config.yaml").write_text("- 1\n- 2\n")
            elif kind == "other_architecture":
                save_file(DiffWave(3, 8, 2).state_dict(), folder / "model.safetensors")
            elif kind in ("env_in_model", "env_in_meta", "meta_sample_rate"):
                text = (folder / "config.yaml").read_text()
                if kind == "env_in_model":  # resolving would read the environment
                    text = text.replace("dilation_cycle: 2", "dilation_cycle: ${oc.env:HOME}")
                elif kind == "env_in_meta":
                    text += "  notes: ${oc.env:HOME}\n"
                else:
                    text = text.replace("sample_rate: 22050", "sample_rate: fast")
                (folder / "config.yaml").write_text(text)
        return [f"checkpoint={folder}"]

    return make


def no_setup(cwd: Path) -> list[str]:
    return []


OUT = "output=out.wav"
CASES: list[tuple[str, Callable[[Path], list[str]], list[str], list[str]]] = [
    # (id, set-up, overrides, substrings of the one line: the problem and the fix)
    (
        "overwrite=no",
        existing_output,
        [OUT, "overwrite=no"],
        ["overwrite must be true or false", "'no'"],
    ),
    ("overwrite=yes", existing_output, [OUT, "overwrite=yes"], ["overwrite must be true or false"]),
    ("overwrite=1", existing_output, [OUT, "overwrite=1"], ["overwrite must be true or false"]),
    ("output exists", existing_output, [OUT], ["out.wav exists", "overwrite=true"]),
    ("sidecar not ours", foreign_sidecar, [OUT], ["sidecar", "out.json exists", "overwrite=true"]),
    ("sidecar is a folder", sidecar_folder, [OUT], ["sidecar", "is a folder", "output="]),
    ("output is a folder", output_folder, [], ["is a folder", "output="]),
    ("output suffix", no_setup, ["output=out.mp3"], ["must end in .wav or .flac"]),
    ("output under a file", output_under_file, [], ["cannot write", "choose another output="]),
    (
        "candidates=abc",
        no_setup,
        [OUT, "candidates=abc"],
        ["candidates must be a whole number from 1 to 64", "'abc'"],
    ),
    ("candidates=0", no_setup, [OUT, "candidates=0"], ["candidates must be", "got 0"]),
    ("candidates=1.5", no_setup, [OUT, "candidates=1.5"], ["candidates must be", "1.5"]),
    ("candidates=100000", no_setup, [OUT, "candidates=100000"], ["from 1 to 64", "100000"]),
    ("candidates=true", no_setup, [OUT, "candidates=true"], ["candidates must be", "True"]),
    (
        "seed=huge",
        no_setup,
        [OUT, "seed=99999999999999999999"],
        ["seed must be a whole number from 0 to 2**63-1", "null"],
    ),
    ("seed=-1", no_setup, [OUT, "seed=-1"], ["seed must be", "-1"]),
    ("seed=abc", no_setup, [OUT, "seed=abc"], ["seed must be", "'abc'"]),
    ("seed=1.5", no_setup, [OUT, "seed=1.5"], ["seed must be", "1.5"]),
    ("device=foo", no_setup, [OUT, "device=foo"], ["device=foo is not a device", "use auto, cpu"]),
    (
        "device=meta",
        no_setup,
        [OUT, "device=meta"],
        ["device=meta is not supported", "use auto, cpu"],
    ),
    ("device=cuda:7", no_setup, [OUT, "device=cuda:7"], ["device=cuda:7"]),
    ("bf16=maybe", no_setup, [OUT, "bf16=maybe"], ["bf16 must be auto, true or false", "'maybe'"]),
    ("compile=nah", no_setup, [OUT, "compile=nah"], ["compile must be true or false"]),
    ("progress=sure", no_setup, [OUT, "progress=sure"], ["progress must be true or false"]),
    (
        "wandb.enabled=yes",
        no_setup,
        [OUT, "wandb.enabled=yes"],
        ["wandb.enabled must be true or false"],
    ),
    ("history=abc", no_setup, [OUT, "history=abc"], ["history must be true, false or"]),
    ("seconds=0", no_setup, [OUT, "seconds=0"], ["seconds must be > 0"]),
    ("seconds=-1", no_setup, [OUT, "seconds=-1"], ["seconds must be > 0"]),
    ("seconds=abc", no_setup, [OUT, "seconds=abc"], ["seconds must be a number"]),
    ("seconds=4000", no_setup, [OUT, "seconds=4000"], ["1 h limit", "generate in parts"]),
    ("seconds=1e-7", no_setup, [OUT, "seconds=1e-7"], ["shorter than one sample"]),
    ("seconds=nan", no_setup, [OUT, "seconds=nan"], ["seconds must be > 0"]),
    ("seconds=inf", no_setup, [OUT, "seconds=inf"], ["seconds must be > 0"]),
    (
        "ground missing",
        no_setup,
        [OUT, "ground_file=missing.wav"],
        ["audio file not found", "check the path"],
    ),
    ("ground not audio", ground("text"), [OUT], ["cannot read", "use one of .wav"]),
    ("ground empty", ground("empty"), [OUT], ["holds no samples", "non-empty recording"]),
    ("ground silent", ground("silent"), [OUT], ["is silent", "recording with sound"]),
    ("ground NaN", ground("nan"), [OUT], ["NaN or infinite", "re-export"]),
    ("ground silent tail", ground("silent_tail"), [OUT], ["is silent", "recording with sound"]),
    (
        "checkpoint missing",
        no_setup,
        [OUT, "checkpoint=nowhere"],
        ["checkpoint not found", "checkpoint=<export folder>"],
    ),
    (
        "checkpoint empty folder",
        checkpoint_dir("empty_folder"),
        [OUT],
        ["not a pianodiff export", "export_checkpoint.py"],
    ),
    (
        "checkpoint interrupted",
        checkpoint_dir("interrupted"),
        [OUT],
        ["interrupted", "rename .ck.old back to ck"],
    ),
    (
        "checkpoint corrupt weights",
        checkpoint_dir("corrupt_weights"),
        [OUT],
        ["corrupt or not safetensors"],
    ),
    (
        "checkpoint bad yaml",
        checkpoint_dir("bad_yaml"),
        [OUT],
        ["config.yaml is not readable YAML"],
    ),
    (
        "checkpoint yaml list",
        checkpoint_dir("yaml_list"),
        [OUT],
        ["holds no model/diffusion mapping"],
    ),
    (
        "checkpoint env interpolation in model",
        checkpoint_dir("env_in_model"),
        [OUT],
        ["model.dilation_cycle = '${oc.env:HOME}' is an interpolation", "nothing was resolved"],
    ),
    (
        "checkpoint env interpolation in meta",
        checkpoint_dir("env_in_meta"),
        [OUT],
        ["meta.notes = '${oc.env:HOME}' is an interpolation", "nothing was resolved"],
    ),
    (
        "checkpoint meta sample rate",
        checkpoint_dir("meta_sample_rate"),
        [OUT],
        ["meta.sample_rate must be a whole number of Hz", "'fast'"],
    ),
    (
        "checkpoint other architecture",
        checkpoint_dir("other_architecture"),
        [OUT],
        ["another architecture"],
    ),
]


@pytest.mark.parametrize("case_id,setup,overrides,expect", CASES, ids=[c[0] for c in CASES])
def test_refused_with_one_line_and_nothing_written(
    case_id, setup, overrides, expect, checkpoint, tmp_path, monkeypatch, capsys
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = setup(cwd) + overrides
    if not any(a.startswith("checkpoint=") for a in args):
        args.append(f"checkpoint={checkpoint}")
    before = tree(cwd)
    capsys.readouterr()
    assert run_main(["seconds=0.2", *args], cwd, monkeypatch) == 2
    line = one_line(capsys.readouterr().err)
    for text in expect:
        assert text in line, (text, line)
    assert tree(cwd) == before  # no audio, sidecar, temp or outputs/generate/ run folder


@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_hostile_checkpoint_config_never_runs(kind, tmp_path, monkeypatch, capsys):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, marker, victim)
    monkeypatch.syspath_prepend(str(export))  # makes the import_side_effect case live
    capsys.readouterr()
    code = run_main([f"checkpoint={export}", "output=out.wav", "seconds=0.2"], cwd, monkeypatch)
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert "refused, nothing was run" in line, line
    assert re.search(r"model|diffusion|line \d+", line)  # names the key (or YAML line)
    assert not marker.exists() and victim.read_text() == "precious\n"
    assert tree(cwd) == {}
    assert "evilmod" not in sys.modules


def test_accepted_run_keeps_its_run_folder_and_overwrite_true_replaces_both(
    checkpoint, tmp_path, monkeypatch
):
    """The control: a good request writes audio + sidecar and keeps Hydra's run folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    existing_output(cwd)
    args = [f"checkpoint={checkpoint}", OUT, "seconds=0.2", "overwrite=true"]
    assert run_main(args, cwd, monkeypatch) == 0
    assert sf.info(cwd / "out.wav").samplerate == SR
    assert '"extender"' in (cwd / "out.json").read_text()
    (job,) = (cwd / "outputs" / "generate").glob("*/*")
    assert (job / ".hydra" / "config.yaml").is_file()
    assert not list(cwd.glob(".*.tmp"))
    assert torch.isfinite(torch.from_numpy(sf.read(cwd / "out.wav")[0])).all()
