"""Presets (conf/preset/): each selects a shipped sampler, an explicit sampler= wins in
either order, the sidecar record says which ran, and every preset works with every
extender (the contract of test_inpaint.py on the preset's sampler)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from test_inpaint import PLANS, _refused, _run, net  # noqa: F401  (net: the fixture)

from pianodiff.cli import ConfigError
from pianodiff.cli.strict import check_command_line
from pianodiff.conf import compose, group_choices, primary_defaults
from pianodiff.generate import ENTRYPOINT
from pianodiff.generation.configs import load_group_config
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.presets import preset_of, preset_record, resolve_preset

PRESETS = group_choices("preset")


def _sampler(cfg) -> dict:
    return OmegaConf.to_container(cfg.sampler, resolve=True)


def _shipped(name: str) -> dict:
    return OmegaConf.to_container(load_group_config("sampler", name))


def test_the_three_presets_ship_and_standard_is_the_default():
    assert PRESETS == ["best", "draft", "standard"]
    assert primary_defaults("generate")["preset"] == "standard"
    cfg = compose("generate")
    assert preset_of(cfg) == "standard"
    assert _sampler(cfg) == _shipped(resolve_preset("standard").sampler)


def test_without_a_preset_the_default_sampler_is_standards():
    """``~preset`` falls back to generate.yaml's sampler entry: it must be the same sampler."""
    cfg = compose("generate", ["~preset"])
    assert preset_of(cfg) is None
    assert _sampler(cfg) == _shipped(resolve_preset("standard").sampler)


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_selects_its_sampler(preset):
    cfg = compose("generate", [f"preset={preset}"])
    chosen = resolve_preset(preset)
    assert chosen.sampler in group_choices("sampler")
    assert preset_of(cfg) == preset
    assert _sampler(cfg) == _shipped(chosen.sampler)
    assert preset_record(preset, cfg.sampler) == {
        "preset": preset,
        "preset_sampler": chosen.sampler,
        "preset_sampler_used": True,
    }


@pytest.mark.parametrize("order", ["preset first", "sampler first"])
@pytest.mark.parametrize("preset", PRESETS)
def test_an_explicit_sampler_wins_over_the_preset_in_either_order(preset, order):
    other = next(s for s in ("ddim", "fast") if s != resolve_preset(preset).sampler)
    overrides = [f"preset={preset}", f"sampler={other}"]
    if order == "sampler first":
        overrides.reverse()
    cfg = compose("generate", overrides)
    assert _sampler(cfg) == _shipped(other)
    assert preset_of(cfg) == preset
    record = preset_record(preset, cfg.sampler)
    assert record["preset_sampler"] == resolve_preset(preset).sampler
    assert record["preset_sampler_used"] is False


def test_a_sampler_setting_applies_to_the_presets_sampler():
    cfg = compose("generate", ["preset=best", "sampler.num_steps=7"])
    assert cfg.sampler.num_steps == 7
    assert cfg.sampler._target_ == _shipped(resolve_preset("best").sampler)["_target_"]
    assert preset_record("best", cfg.sampler)["preset_sampler_used"] is False
    cfg = compose("generate", ["preset=draft", "sampler.steps=[30,40,49]"])  # a restart walk's
    assert list(cfg.sampler.steps) == [30, 40, 49]
    assert preset_record("draft", cfg.sampler)["preset_sampler_used"] is False


def test_an_unknown_preset_is_one_line_naming_the_choices():
    with pytest.raises(GenerationError, match="unknown preset 'bset'; choose one of: best, draft"):
        resolve_preset("bset")
    with pytest.raises(ConfigError, match="did you mean best.*choose one of: best, draft"):
        check_command_line(ENTRYPOINT, ["preset=bset"])
    assert preset_record(None, compose("generate").sampler) == {"preset": None}


@pytest.mark.parametrize("extender", group_choices("extender"))
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_works_with_every_extender(net, preset, extender):  # noqa: F811
    if _refused(net, extender):
        return
    plan = PLANS[resolve_preset(preset).sampler]
    x, nfe, inpainter, ctx = _run(net, extender, plan)
    assert x.shape == ctx.mask.shape and bool(torch.isfinite(x).all())
    assert nfe == inpainter.nfe(plan)


def test_the_api_takes_a_preset_and_an_explicit_sampler_wins(tmp_path):
    from test_bench_presets import _tiny_export

    from pianodiff.api import Generator
    from pianodiff.generation.geometry import Geometry

    gen = Generator.from_checkpoint(_tiny_export(tmp_path / "tiny"), device="cpu")  # T = 50
    small = {"seed": 0, "geometry": Geometry(0.25, 0.05, 0.01)}
    for preset in PRESETS:
        gen.generate(0.2, preset=preset, **small)
        chosen = resolve_preset(preset)
        # a model without a restart student runs a restart preset's fallback (test_students)
        ran = chosen.fallback or chosen.sampler
        assert gen.last_run.plan.num_levels == _shipped(ran)["num_steps"]
        assert gen.last_run.choices()["preset"] == preset
        assert gen.last_run.choices()["preset_sampler"] == ran
        assert gen.last_run.choices()["preset_sampler_used"] is True
    gen.generate(0.2, preset="best", sampler="ddim", sampler_params={"num_steps": 3}, **small)
    record = gen.last_run.choices()
    assert gen.last_run.plan.num_levels == 3 and record["preset"] == "best"
    assert record["preset_sampler"] == "dpmpp_2m_sde20" and record["preset_sampler_used"] is False
    with pytest.raises(GenerationError, match="unknown preset 'fastest'; choose one of"):
        gen.generate(0.2, preset="fastest", **small)
