"""The pipeline keeps what it chose for the user: the preset (and whether its sampler ran)
and bf16 with its reason, from a composed generate config."""

from __future__ import annotations

import json

import pytest
import torch
from test_generate import make_export

from pianodiff.checkpoint.export import load_export
from pianodiff.conf import compose
from pianodiff.generation import bf16_cache
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.pipeline import generate, make_denoiser, request_from_config
from pianodiff.generation.presets import resolve_preset
from pianodiff.generation.run import run_generation

TINY = [
    "geometry.window_seconds=0.5",
    "geometry.context_seconds=0.1",
    "geometry.crossfade_seconds=0.02",
    "seconds=0.6",
    "progress=false",
]


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv(bf16_cache.CACHE_ENV, str(tmp_path / "cache"))
    return load_export(make_export(tmp_path / "tiny"))


def _run(model, overrides: list[str]) -> dict:
    cfg = compose("generate", [*TINY, *overrides])
    request = request_from_config(cfg)
    denoiser, bf16 = make_denoiser(model.net, model.schedule, cfg.bf16)
    done = generate(denoiser, request, model.schedule, bf16=bf16)
    assert done.audio.numel() > 0
    return done.choices()


def test_a_preset_and_its_sampler_are_recorded(model):
    # the tiny export has T = 8: every preset's sampler needs at most that many levels here
    record = _run(model, ["preset=best", "sampler.num_steps=4", "bf16=false"])
    assert record["preset"] == "best"
    assert record["preset_sampler"] == resolve_preset("best").sampler
    assert record["preset_sampler_used"] is False  # num_steps was set by hand
    assert record["bf16"] is False and record["bf16_choice"]["source"] == "forced"


def test_an_explicit_sampler_is_recorded_as_winning(model):
    record = _run(model, ["sampler=ddim", "sampler.num_steps=2", "preset=best", "bf16=false"])
    assert record["preset"] == "best" and record["preset_sampler_used"] is False


def test_bf16_auto_is_measured_once_and_recorded_with_its_reason(model):
    first = _run(model, ["sampler=ddim", "sampler.num_steps=2", "bf16=auto"])
    assert first["bf16_choice"]["setting"] == "auto"
    assert first["bf16_choice"]["source"] == "measured"
    assert first["bf16_choice"]["reason"].startswith("measured: ")
    second = _run(model, ["sampler=ddim", "sampler.num_steps=2", "bf16=auto"])
    assert second["bf16_choice"]["source"] == "cache" and second["bf16"] == first["bf16"]


def test_a_bad_bf16_value_is_one_line_before_anything_runs(model):
    cfg = compose("generate", [*TINY, "bf16=yes"])
    with pytest.raises(GenerationError, match="bf16 must be auto, true or false, got 'yes'"):
        request_from_config(cfg)


def test_bf16_auto_is_the_default_and_the_sidecar_records_a_cached_verdict(model, tmp_path):
    """generate's default is ``bf16: auto``; a verdict already cached for this host and model
    decides without a measurement, and the written sidecar keeps it with its reason, beside
    the preset and the sampler it selected."""
    assert compose("generate").bf16 == "auto"
    cache = bf16_cache.VerdictCache()
    host, key = bf16_cache.host_key(torch.device("cpu")), bf16_cache.model_key(model.net)
    for use in (True, False):
        cache.put(host, key, {"use": use, "reason": f"measured: forced verdict {use}"})
        out = tmp_path / f"{use}.wav"
        cfg = compose("generate", [*TINY, "sampler.num_steps=4", f"output={out}", "preset=best"])
        result = run_generation(cfg, model=model)
        meta = json.loads(result.sidecar.read_text())
        assert meta["bf16"] is use
        assert meta["bf16_choice"] == {
            "setting": "auto",
            "reason": f"measured: forced verdict {use}",
            "source": "cache",
        }
        assert meta["preset"] == "best" and meta["preset_sampler"] == "dpmpp_2m_sde20"
        assert meta["preset_sampler_used"] is False  # num_steps was set by hand


def test_the_api_takes_bf16_auto_and_keeps_the_choice(model):
    from pianodiff.api import Generator
    from pianodiff.generation.geometry import Geometry

    cache = bf16_cache.VerdictCache()
    host, key = bf16_cache.host_key(torch.device("cpu")), bf16_cache.model_key(model.net)
    cache.put(host, key, {"use": True, "reason": "measured: forced verdict"})
    gen = Generator(model, torch.device("cpu"), bf16="auto")
    assert gen.denoiser.autocast_dtype is torch.bfloat16
    gen.generate(
        0.2, sampler="ddim", sampler_params={"num_steps": 2}, geometry=Geometry(0.5, 0.1, 0.02)
    )
    record = gen.last_run.choices()
    assert record["bf16"] is True and record["bf16_choice"]["source"] == "cache"
    assert Generator(model, torch.device("cpu")).denoiser.autocast_dtype is None  # default off
