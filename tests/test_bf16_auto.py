"""bf16: auto (generation/precision.py, generation/bf16_cache.py): forced settings measure
nothing, a verdict is cached per host and model under the cache folder, and a measured one
on a tiny real net records its reason."""

from __future__ import annotations

import json

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.conf import CONF_DIR
from pianodiff.generation import bf16_cache
from pianodiff.generation.bf16_cache import VerdictCache, cache_dir, host_key, model_key
from pianodiff.generation.device import denoiser_for
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.precision import (
    Bf16Measurement,
    choose_bf16,
    measure_bf16,
    parse_setting,
    verdict,
)

CPU = torch.device("cpu")


def tiny_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = instantiate(OmegaConf.load(CONF_DIR / "model" / "tiny.yaml")).eval()
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)  # a non-zero ε̂
    return net


def never(*_args, **_kwargs):
    raise AssertionError("nothing should be measured")


def forced(fp32_s: float, bf16_s: float | None, rel_error: float | None = 0.01):
    """A measurement that returns fixed figures and counts its calls."""
    calls = []

    def measure(net, device, net_step):
        calls.append(net_step)
        return Bf16Measurement(fp32_s, bf16_s, rel_error)

    measure.calls = calls
    return measure


@pytest.fixture
def cache(tmp_path, monkeypatch) -> VerdictCache:
    monkeypatch.setenv(bf16_cache.CACHE_ENV, str(tmp_path / "cache"))
    return VerdictCache()


def test_the_cache_folder_follows_the_variable_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv(bf16_cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(bf16_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "pianodiff"


@pytest.mark.parametrize("setting, use", [(True, True), (False, False), ("true", True)])
def test_a_forced_setting_measures_nothing(cache, setting, use):
    choice = choose_bf16(setting, tiny_net(), CPU, 10.0, cache=cache, measure=never)
    assert choice.use is use and choice.source == "forced"
    assert choice.record()["bf16"] is use
    assert not cache.path.exists()


@pytest.mark.parametrize("value", ["yes", 1, "Auto ", None])
def test_other_settings_are_refused_in_one_line(value):
    with pytest.raises(GenerationError, match="bf16 must be auto, true or false"):
        parse_setting(value)


def test_auto_measures_once_then_reads_the_cache(cache):
    net, measure = tiny_net(), forced(0.20, 0.12)
    first = choose_bf16("auto", net, CPU, 10.0, cache=cache, measure=measure)
    assert first.use and first.source == "measured" and "1.67x" in first.reason
    second = choose_bf16("auto", net, CPU, 10.0, cache=cache, measure=never)
    assert second.use and second.source == "cache" and second.reason == first.reason
    assert len(measure.calls) == 1
    stored = json.loads(cache.path.read_text())
    assert list(stored) == [VerdictCache.key(host_key(CPU), model_key(net))]


def test_the_verdict_is_kept_per_model_and_per_host(cache, monkeypatch):
    a, b = tiny_net(0), tiny_net(1)
    assert model_key(a) != model_key(b) and model_key(a) == model_key(tiny_net(0))
    assert choose_bf16("auto", a, CPU, 10.0, cache=cache, measure=forced(0.2, 0.1)).use
    slow = forced(0.2, 0.5)
    assert not choose_bf16("auto", b, CPU, 10.0, cache=cache, measure=slow).use
    assert len(slow.calls) == 1  # model b was measured, not read from model a's verdict
    monkeypatch.setattr(bf16_cache, "cpu_name", lambda: "another processor")
    other_host = forced(0.2, 0.5)
    assert not choose_bf16("auto", a, CPU, 10.0, cache=cache, measure=other_host).use
    assert len(other_host.calls) == 1
    assert len(json.loads(cache.path.read_text())) == 3


@pytest.mark.parametrize(
    "m, use, words",
    [
        (Bf16Measurement(0.20, 0.12, 0.01), True, "1.67x the speed of fp32"),
        (Bf16Measurement(0.20, 0.19, 0.01), False, "under 1.1x"),
        (Bf16Measurement(0.20, 0.05, 0.20), False, "over 0.05"),
        (Bf16Measurement(0.20, None, None, failure="no bf16 here"), False, "fails here"),
    ],
)
def test_bf16_only_where_faster_and_close(m, use, words):
    got, reason = verdict(m)
    assert got is use and words in reason and reason.startswith("measured: ")


def test_a_cpu_flag_does_not_decide(cache, monkeypatch):
    """Whatever /proc/cpuinfo claims, the timing decides."""
    monkeypatch.setattr(bf16_cache, "cpu_name", lambda: "CPU with avx512_bf16 amx_bf16")
    choice = choose_bf16("auto", tiny_net(), CPU, 10.0, cache=cache, measure=forced(0.1, 0.3))
    assert not choice.use and "0.33x" in choice.reason


def test_a_real_measurement_on_a_tiny_net_records_its_reason(cache):
    net = tiny_net()
    m = measure_bf16(net, CPU, 10.0, samples=2048, repeats=1)
    assert m.fp32_s > 0
    if m.failure is None:  # bf16 autocast runs on every CPU torch supports today
        assert m.bf16_s is not None and m.bf16_s > 0
        assert m.rel_error is not None and 0 < m.rel_error < 0.2
    denoiser, choice = denoiser_for(net, CPU, "auto", net_step=10.0, cache=cache)
    assert choice.source == "measured" and choice.reason.startswith("measured: ")
    assert (denoiser.autocast_dtype is torch.bfloat16) is choice.use
    record = choice.record()
    assert record["bf16"] is choice.use and record["bf16_choice"]["setting"] == "auto"
    assert record["bf16_choice"]["fp32_s"] > 0
    _, again = denoiser_for(net, CPU, "auto", net_step=10.0, cache=cache)
    assert again.source == "cache" and again.use is choice.use


def test_an_unwritable_cache_still_decides(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = VerdictCache(blocker / "sub")
    choice = choose_bf16("auto", tiny_net(), CPU, 10.0, cache=cache, measure=forced(0.2, 0.1))
    assert choice.use and choice.source == "measured"
