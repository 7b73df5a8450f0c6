"""The Python API under hostile input: a ``ValueError`` subclass with one line naming the
problem and the fix, nothing written, and a hostile checkpoint's payload never run. The
API refuses what the CLI refuses (a silent prompt, a sample rate that is not one)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SR, tone
from hostile import CONFIG_KINDS, evil_export, tree, victim_file
from test_generate import make_export

from pianodiff.api import Generator, infer, setup
from pianodiff.checkpoint.export import CheckpointError
from pianodiff.core.audio import AudioError
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry

SMALL = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)
STEPS = {"num_steps": 2}
PROMPT = 0.2 * torch.sin(torch.arange(SR) / SR * 2 * torch.pi * 262)


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Generator:
    return Generator.from_checkpoint(make_export(tmp_path_factory.mktemp("api") / "t"), "cpu")


CASES = [
    # (id, call kwargs of Generator.extend, error type, substrings of the message)
    ("silent tensor", {"audio": torch.zeros(SR)}, AudioError, ["audio is silent", "with sound"]),
    ("quiet tensor", {"audio": torch.full((SR,), 1e-5)}, AudioError, ["silent"]),
    ("empty tensor", {"audio": torch.zeros(0)}, GenerationError, ["non-empty"]),
    ("3-D tensor", {"audio": torch.ones(1, 2, 10)}, GenerationError, ["(T,) or (channels, T)"]),
    ("NaN tensor", {"audio": torch.tensor([0.1, float("nan")])}, AudioError, ["NaN or infinite"]),
    ("inf tensor", {"audio": torch.tensor([0.1, float("inf")])}, AudioError, ["NaN or infinite"]),
    (
        "sample_rate=0",
        {"audio": PROMPT, "sample_rate": 0},
        GenerationError,
        ["sample_rate must be a whole number of Hz", "got 0"],
    ),
    (
        "sample_rate=-8000",
        {"audio": PROMPT, "sample_rate": -8000},
        GenerationError,
        ["sample_rate must be"],
    ),
    (
        "sample_rate=22050.5",
        {"audio": PROMPT, "sample_rate": 22050.5},
        GenerationError,
        ["sample_rate must be"],
    ),
    (
        "sample_rate='22050'",
        {"audio": PROMPT, "sample_rate": "22050"},
        GenerationError,
        ["sample_rate must be"],
    ),
    (
        "seed huge",
        {"audio": PROMPT, "seed": 10**20},
        GenerationError,
        ["seed must be a whole number from 0 to 2**63-1"],
    ),
    ("seed -1", {"audio": PROMPT, "seed": -1}, GenerationError, ["seed must be"]),
    ("seed 1.5", {"audio": PROMPT, "seed": 1.5}, GenerationError, ["seed must be"]),
    (
        "candidates abc",
        {"audio": PROMPT, "candidates": "abc"},
        GenerationError,
        ["candidates must be a whole number from 1 to 64"],
    ),
    ("candidates 0", {"audio": PROMPT, "candidates": 0}, GenerationError, ["candidates must be"]),
    ("seconds 0", {"audio": PROMPT, "seconds": 0}, GenerationError, ["seconds must be > 0"]),
    (
        "unknown extender",
        {"audio": PROMPT, "extender": "nope"},
        GenerationError,
        ["'nope'", "replacement"],
    ),
]


@pytest.mark.parametrize("case_id,kwargs,error,expect", CASES, ids=[c[0] for c in CASES])
def test_extend_refuses(case_id, kwargs, error, expect, gen, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    call = {"seconds": 0.2, "geometry": SMALL, "sampler": "ddim", "sampler_params": STEPS, **kwargs}
    with pytest.raises(error) as info:
        gen.extend(call.pop("audio"), call.pop("seconds"), **call)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, ValueError)
    for text in expect:
        assert text in message, (text, message)
    assert tree(cwd) == {}


def test_infer_refuses_a_silent_file_like_the_cli(gen, tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(SR, np.float32), SR)
    with pytest.raises(AudioError, match="quiet.wav is silent"):
        infer(gen, "replacement", tmp_path / "quiet.wav", gen.device, 0.2, geometry=SMALL)


@pytest.mark.parametrize("device", ["foo", "meta", "cuda:7"])
def test_bad_device_is_one_line(device, tmp_path):
    export = make_export(tmp_path / "t")
    with pytest.raises(GenerationError, match=f"device={device}") as info:
        Generator.from_checkpoint(export, device=device)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", CONFIG_KINDS)
@pytest.mark.parametrize("entry", ["from_checkpoint", "setup"])
def test_hostile_checkpoint_never_runs(entry, kind, tmp_path, monkeypatch):
    marker, victim = tmp_path / "marker", victim_file(tmp_path / "victim.txt")
    export = evil_export(tmp_path / "evil", kind, marker, victim)
    monkeypatch.syspath_prepend(str(export))
    with pytest.raises(CheckpointError, match="refused, nothing was run") as info:
        if entry == "setup":
            setup({"model_dir": str(export), "device": "cpu"})
        else:
            Generator.from_checkpoint(export, device="cpu")
    assert "\n" not in str(info.value)
    assert not marker.exists() and victim.read_text() == "precious\n"
    assert "evilmod" not in sys.modules


def test_a_good_prompt_still_works(gen):
    """The control for the cases above: the same call with valid values succeeds."""
    out, rate = gen.extend(
        PROMPT, 0.2, geometry=SMALL, sampler="ddim", sampler_params=STEPS, seed=2**63 - 1
    )
    assert rate == SR and out.shape == (len(PROMPT) + round(0.2 * SR),)  # all of it + new
    quiet_but_real = torch.from_numpy(tone(1.0)) * 0.01  # -40 dBFS: quiet, not silent
    out, _ = gen.extend(
        quiet_but_real, 0.2, geometry=SMALL, sampler="ddim", sampler_params=STEPS, sample_rate=SR
    )
    assert torch.isfinite(out).all()
