"""Continuing a recording keeps the recording: CLI, Python API and evaluation harness.

``seconds`` is the new audio after the prompt; the output is the whole prompt (the ground
file, or the base window) followed by it, the prompt's samples exact up to the crossfade.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tone
from omegaconf import OmegaConf
from test_generate import FAST, make_export

from pianodiff.api import Generator
from pianodiff.conf import CONF_DIR
from pianodiff.evaluation.cases import ExtensionCase
from pianodiff.evaluation.run_cases import Setup, run_extension_case
from pianodiff.generation.configs import build_extender, build_plan
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.measures.pitch_profile import pitch_profile

SR = 22050
SECONDS = 0.3
XF = round(0.02 * SR)  # FAST's crossfade
GEOMETRY = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_export(tmp_path_factory.mktemp("continue") / "tiny")


def _generate(args: list[str], cwd, monkeypatch) -> None:
    """``python -m pianodiff.generate ARGS`` in-process (the console script's path)."""
    from pianodiff.generate import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["pianodiff-generate", *FAST, *args])
    main()


@pytest.mark.parametrize("prompt_seconds", [0.05, 0.3, 1.2, 3.0])  # 3 s: a tail read
def test_cli_writes_the_whole_prompt_then_seconds(
    tmp_path, checkpoint, monkeypatch, prompt_seconds
):
    prompt = tone(prompt_seconds, (261.6, 392.0))
    sf.write(tmp_path / "prompt.wav", prompt, SR, subtype="PCM_16")
    common = [f"checkpoint={checkpoint}", "prompt=prompt.wav", f"seconds={SECONDS}"]
    _generate([*common, "output=whole.wav"], tmp_path, monkeypatch)
    _generate([*common, "output=new.wav", "include_prompt=false"], tmp_path, monkeypatch)

    whole, rate = sf.read(tmp_path / "whole.wav", dtype="float32")
    new, _ = sf.read(tmp_path / "new.wav", dtype="float32")
    written, _ = sf.read(tmp_path / "prompt.wav", dtype="float32")  # the prompt as 16 bit
    n = len(written)
    assert rate == SR and len(whole) == n + round(SECONDS * SR)
    # Interpolation (the default extender) keeps the recording sample for sample up to the
    # crossfade, where it blends into the model's own version of its last 20 ms.
    keep = max(n - XF, 0)
    assert np.array_equal(whole[:keep], written[:keep])
    # include_prompt=false: exactly `seconds`, the same new audio (same seed).
    assert len(new) == round(SECONDS * SR)
    assert np.array_equal(new, whole[n:])
    # the sidecar records the harmony guidance that ran: generate's default, which is on
    shipped = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "generate.yaml").harmony)
    sidecar = json.loads((tmp_path / "whole.json").read_text())
    assert sidecar["harmony"] == shipped and shipped["strength"] > 0


def test_cli_unconditional_output_is_base_window_plus_seconds(tmp_path, checkpoint, monkeypatch):
    _generate([f"checkpoint={checkpoint}", "seconds=0.3", "output=a.wav"], tmp_path, monkeypatch)
    args = [f"checkpoint={checkpoint}", "seconds=0.3", "output=b.wav", "include_prompt=false"]
    _generate(args, tmp_path, monkeypatch)
    a, _ = sf.read(tmp_path / "a.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "b.wav", dtype="float32")
    assert len(a) == round(0.5 * SR) + round(0.3 * SR) and len(b) == round(0.3 * SR)
    assert np.array_equal(b, a[round(0.5 * SR) :])


def test_cli_refuses_a_non_boolean_include_prompt(tmp_path, checkpoint, monkeypatch, capsys):
    with pytest.raises(SystemExit) as stop:
        _generate([f"checkpoint={checkpoint}", "include_prompt=no"], tmp_path, monkeypatch)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: include_prompt must be true or false, got 'no'"]


@pytest.mark.parametrize("prompt_seconds", [0.08, 0.5, 1.7])
def test_api_keeps_the_whole_prompt(checkpoint, prompt_seconds):
    gen = Generator.from_checkpoint(checkpoint, device="cpu")
    prompt = torch.from_numpy(tone(prompt_seconds, (220.0, 330.0)))
    n = len(prompt)
    kw = {"geometry": GEOMETRY, "sampler": "ddim", "sampler_params": {"num_steps": 2}}
    out, rate = gen.extend(prompt, SECONDS, seed=3, **kw)
    assert rate == SR and out.shape == (n + round(SECONDS * SR),)
    assert torch.equal(out[: max(n - XF, 0)], prompt[: max(n - XF, 0)])
    assert gen.last.base_samples == n and gen.last.seams[0] == n
    new, _ = gen.extend(prompt, SECONDS, seed=3, include_prompt=False, **kw)
    assert torch.equal(new, out[n:]) and gen.last.seams[0] == 0
    base, _ = gen.generate(SECONDS, seed=3, **kw)
    assert base.shape == (round(0.5 * SR) + round(SECONDS * SR),)
    with pytest.raises(GenerationError, match="include_prompt must be true or false"):
        gen.extend(prompt, SECONDS, include_prompt="yes", **kw)


def test_evaluation_continues_the_whole_excerpt(checkpoint):
    """The harness's continuation is the same whole-prompt output as generate's."""
    gen = Generator.from_checkpoint(checkpoint, device="cpu")
    setup = Setup(
        gen,
        build_extender("replacement"),
        build_plan("ddim", gen.model.schedule, num_steps=2),
        "replacement",
        "ddim",
    )
    wave = torch.from_numpy(tone(2.0))
    cut = round(1.2 * SR)  # 1.2 s of real audio before the cut: longer than the 0.5 s window
    case = ExtensionCase("x.wav", cut, wave[:cut], wave[cut : cut + round(SECONDS * SR)])
    natural = torch.linspace(0.5, 3.0, 50)
    rows, new = run_extension_case(setup, case, asdict(GEOMETRY), natural, continuity_seconds=0.2)
    result = gen.last
    assert len(result.audio) == cut + round(SECONDS * SR)
    assert torch.equal(result.audio[: cut - XF].cpu(), case.ground[: cut - XF])
    seams = [r for r in rows if r["task"] == "seam"]
    assert result.seams[0] == cut and seams and math.isfinite(rows[0]["tonality"])
    assert torch.equal(new, result.audio[cut:].float().cpu())  # the new audio from the cut on


def test_without_harmony_new_audio_depends_only_on_the_last_window(checkpoint):
    """With harmony guidance off, the network sees only each window's known head: cutting the
    recording to its last window first gives exactly the same continuation."""
    gen = Generator.from_checkpoint(checkpoint, device="cpu")
    prompt = torch.from_numpy(tone(1.5, (196.0, 293.7)))
    window = round(GEOMETRY.window_seconds * SR)
    kw = {
        "geometry": GEOMETRY,
        "sampler": "ddim",
        "sampler_params": {"num_steps": 2},
        "seed": 4,
        "settings": {"harmony.strength": 0.0},
    }
    whole, _ = gen.extend(prompt, SECONDS, **kw)
    tail, _ = gen.extend(prompt[-window:], SECONDS, **kw)
    assert torch.equal(whole[-len(tail) :], tail)


def test_with_harmony_the_whole_prompt_reaches_later_windows(checkpoint):
    """With harmony guidance on, every window is pushed toward the whole prompt's pitch
    profile: two prompts that end in the same last window (so the network's context is the
    same) but differ before it continue differently, in later windows too, and each
    continuation's profile is closer to its own prompt's than to the other's."""
    gen = Generator.from_checkpoint(checkpoint, device="cpu")
    window = round(GEOMETRY.window_seconds * SR)
    tail = torch.from_numpy(tone(GEOMETRY.window_seconds, (261.6, 329.6)))
    heads = {
        "low": torch.from_numpy(tone(1.5, (98.0, 146.8))),
        "high": torch.from_numpy(tone(1.5, (880.0, 1318.5))),
    }
    prompts = {name: torch.cat([head, tail]) for name, head in heads.items()}
    assert torch.equal(prompts["low"][-window:], prompts["high"][-window:])
    seconds = 3 * (GEOMETRY.window_seconds - GEOMETRY.context_seconds)  # three windows
    kw = {
        "geometry": GEOMETRY,
        "sampler": "ddim",
        "sampler_params": {"num_steps": 2},
        "seed": 4,
        "include_prompt": False,
    }
    news = {}
    for name, prompt in prompts.items():
        off, _ = gen.extend(prompt, seconds, settings={"harmony.strength": 0.0}, **kw)
        on, _ = gen.extend(
            prompt, seconds, settings={"harmony.strength": 10.0, "harmony.cut": 0.8}, **kw
        )
        news[name] = (off, on)
    later = round(1.5 * (GEOMETRY.window_seconds - GEOMETRY.context_seconds) * SR)
    assert torch.equal(news["low"][0], news["high"][0])  # off: the heads never reach it
    low, high = news["low"][1][later:], news["high"][1][later:]  # on: windows 2 and 3
    assert not torch.allclose(low, high, atol=1e-4)
    target = {name: pitch_profile(prompt) for name, prompt in prompts.items()}
    for own, other in (("low", "high"), ("high", "low")):
        profile = pitch_profile(news[own][1][later:])
        assert float(profile @ target[own]) > float(profile @ target[other])
