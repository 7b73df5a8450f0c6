"""Harmony guidance: an x̂0 guide toward the prompt's pitch profile, usable by every extender.

On a toy denoiser (the tiny DiffWave with random output weights, whose estimates are noise):
strength 0 changes nothing, bit for bit; a positive strength moves the new audio's profile
toward the target and leaves the known audio alone; the push fades in away from the known
audio; the windowed engine aims at the whole prompt, not only the window's context.
"""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from test_generate import make_export

from pianodiff.api import Generator
from pianodiff.conf import CONF_DIR, compose
from pianodiff.core.errors import UserError
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import ddim_plan
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender
from pianodiff.generation.engine import WindowedGenerator, prompt_tail_seconds
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.pipeline import request_from_config
from pianodiff.inpaint.harmony import Harmony, HarmonyError, HarmonyGuide, fade_in_from_known
from pianodiff.measures.pitch_profile import fold_to_classes, pitch_profile

SR = 22050
CONF = CONF_DIR
SCHEDULE = linear_schedule(8, 1e-4, 0.25)
LENGTH = SR  # 1 s windows: long enough for a few 4096-point frames
KNOWN = SR // 4


def chord(seconds: float, midis=(60, 64, 67), shift: int = 0) -> torch.Tensor:
    """A sustained chord with three partials a note: (T,) float32."""
    t = torch.arange(int(seconds * SR)) / SR
    wave = sum(
        torch.sin(2 * math.pi * k * 440.0 * 2 ** ((m + shift - 69) / 12) * t) / k
        for m in midis
        for k in (1, 2, 3)
    )
    return (0.2 * wave / wave.abs().max()).float()


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    torch.manual_seed(0)
    net = instantiate(OmegaConf.load(CONF / "model" / "tiny.yaml"))
    torch.nn.init.normal_(net.output_projection.weight, std=0.2)
    return Denoiser(net.eval())


def run(denoiser, guide, extender="replacement", seed=0, eta=1.0, steps=8):
    known = torch.zeros(2, LENGTH)
    known[:, :KNOWN] = chord(KNOWN / SR)
    mask = torch.zeros(2, LENGTH)
    mask[:, :KNOWN] = 1.0
    plan = ddim_plan(SCHEDULE, steps, eta=eta)
    ctx = InpaintContext(known, mask, plan, torch.Generator().manual_seed(seed), guide=guide)
    with torch.no_grad():
        return sample(denoiser, build_extender(extender), ctx), ctx


def target() -> torch.Tensor:
    return pitch_profile(chord(2.0), SR)


def test_strength_zero_changes_nothing(denoiser):
    plain, _ = run(denoiser, None)
    zero, _ = run(denoiser, HarmonyGuide(target(), strength=0.0))
    assert torch.equal(plain, zero)
    assert Harmony(strength=0.0).guide_for(chord(1.0)) is None  # off: no guide at all


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_positive_strength_moves_the_new_profile_toward_the_target(denoiser, eta):
    guide = HarmonyGuide(target(), strength=10.0, cut=0.8)
    plain, ctx = run(denoiser, None, eta=eta)
    guided, _ = run(denoiser, guide, eta=eta)
    assert any(guide.acts_at(level, ctx) for level in range(1, ctx.plan.num_levels + 1))
    new = 1.0 - ctx.mask
    before, after = guide.similarity(plain, new), guide.similarity(guided, new)
    assert bool((after > before + 0.2).all()), (before, after)
    # the known region is the prompt's, untouched by the push (replacement keeps it exactly)
    assert torch.equal(guided[:, :KNOWN], plain[:, :KNOWN])
    # and the pitch classes it moved toward are the chord's (C, E, G)
    classes = fold_to_classes(pitch_profile(guided[:, KNOWN:], SR))
    assert set(classes.mean(dim=0).topk(3).indices.tolist()) == {0, 4, 7}


def test_the_guide_acts_only_up_to_its_cut(denoiser):
    plan = ddim_plan(SCHEDULE, 8)
    ctx = InpaintContext(torch.zeros(1, LENGTH), torch.zeros(1, LENGTH), plan)
    guide = HarmonyGuide(target(), strength=5.0, cut=0.8)
    x0 = 0.1 * torch.randn(1, LENGTH, generator=torch.Generator().manual_seed(0))
    for level in range(1, plan.num_levels + 1):
        moved = guide(x0, level, ctx)
        assert (moved is x0) == (ctx.alpha_bar(level) > 0.8)
        if moved is not x0:  # a push of strength · 5 % of the new audio's norm
            assert float((moved - x0).norm()) == pytest.approx(0.25 * float(x0.norm()), rel=1e-4)


def test_the_fade_in_rises_linearly_away_from_known_audio_on_either_side():
    new = torch.ones(1, 20)
    new[0, 8:12] = 0.0  # known audio in the middle
    weight = fade_in_from_known(new, 4)[0]
    assert weight[8:12].eq(0).all()
    assert weight[12:16].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert weight[4:8].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert weight[:4].eq(1).all() and weight[16:].eq(1).all()
    # past the window's edges counts as new: no known audio, no fade
    assert fade_in_from_known(torch.ones(2, 10), 4).eq(1).all()
    assert torch.equal(fade_in_from_known(new, 0), new)


def test_the_push_fades_in_after_the_known_audio_over_its_taper():
    plan = ddim_plan(SCHEDULE, 8)
    mask = torch.zeros(1, LENGTH)
    mask[:, :KNOWN] = 1.0
    ctx = InpaintContext(torch.zeros(1, LENGTH), mask, plan)
    level = plan.num_levels  # the noisiest level: the guide acts there (ᾱ <= 0.8)
    x0 = 0.1 * torch.randn(1, LENGTH, generator=torch.Generator().manual_seed(0))
    taper = 0.1
    sharp = HarmonyGuide(target(), strength=5.0, cut=0.8, taper=0.0)(x0, level, ctx) - x0
    soft = HarmonyGuide(target(), strength=5.0, cut=0.8, taper=taper)(x0, level, ctx) - x0
    ramp_end = KNOWN + round(taper * SR)
    assert soft[:, :KNOWN].eq(0).all() and sharp[:, :KNOWN].eq(0).all()
    assert torch.allclose(soft[:, ramp_end:], sharp[:, ramp_end:])  # full size past the taper
    ratio = soft[:, KNOWN:ramp_end] / sharp[:, KNOWN:ramp_end]
    ratio = ratio[sharp[:, KNOWN:ramp_end].abs() > 1e-6]
    assert float(ratio.min()) >= 0.0 and float(ratio.max()) <= 1.0 + 1e-5
    first = soft[:, KNOWN : KNOWN + 50].abs().sum() / sharp[:, KNOWN : KNOWN + 50].abs().sum()
    assert float(first) < 0.05  # next to the seam the push is a small fraction of its size


def test_inference_mode_is_refused_in_one_line(denoiser):
    guide = HarmonyGuide(target(), strength=1.0, cut=1.0)
    plan = ddim_plan(SCHEDULE, 2)
    ctx = InpaintContext(torch.zeros(1, LENGTH), torch.zeros(1, LENGTH), plan, guide=guide)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="torch.no_grad"):
        sample(denoiser, build_extender("replacement"), ctx)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"strength": -1.0}, "harmony.strength"),
        ({"strength": float("nan")}, "harmony.strength"),
        ({"cut": 0.0}, "harmony.cut"),
        ({"cut": 1.5}, "harmony.cut"),
        ({"source": "window"}, "harmony.source"),
        ({"taper": -0.1}, "harmony.taper"),
        ({"taper": float("inf")}, "harmony.taper"),
    ],
)
def test_bad_settings_name_the_setting(kwargs, match):
    with pytest.raises(HarmonyError, match=match):
        Harmony(**kwargs)


def engine_run(denoiser, prompt, harmony):
    geometry = Geometry(window_seconds=0.5, context_seconds=0.1, crossfade_seconds=0.02)
    engine = WindowedGenerator(
        denoiser,
        build_extender("interpolation"),
        ddim_plan(SCHEDULE, 4, eta=1.0),
        geometry,
        torch.Generator().manual_seed(0),
        harmony=harmony,
    )
    with torch.no_grad():
        return engine.generate(0.8, prompt, include_prompt=False).audio


def test_the_engine_aims_at_the_whole_prompt(denoiser):
    tail = chord(0.6)
    in_c = torch.cat([chord(1.5), tail])  # the same last 0.6 s (the windows' context) ...
    in_f_sharp = torch.cat([chord(1.5, shift=6), tail])  # ... after a different opening
    off = Harmony(strength=0.0)
    assert torch.equal(engine_run(denoiser, in_c, off), engine_run(denoiser, in_f_sharp, off))
    on = Harmony(strength=10.0, cut=0.8)
    a, b = engine_run(denoiser, in_c, on), engine_run(denoiser, in_f_sharp, on)
    assert not torch.allclose(a, b)
    pa, pb = (fold_to_classes(pitch_profile(x, SR)) for x in (a, b))
    c_major, f_sharp_major = (fold_to_classes(pitch_profile(p, SR)) for p in (in_c, in_f_sharp))
    assert float(pa @ c_major) > float(pa @ f_sharp_major)
    assert float(pb @ f_sharp_major) > float(pb @ c_major)


def test_the_whole_prompt_is_read_when_harmony_is_on():
    geometry = Geometry()
    assert prompt_tail_seconds(geometry) == prompt_tail_seconds(geometry, Harmony(0.0)) > 0
    assert prompt_tail_seconds(geometry, Harmony(strength=5.0)) is None
    assert Harmony(strength=5.0).record() == {
        "strength": 5.0,
        "cut": 0.8,
        "source": "prompt",
        "taper": 0.2,
    }


def test_generate_config_threads_harmony_into_the_request():
    request = request_from_config(compose("generate", ["harmony.strength=10", "seconds=1"]))
    assert request.harmony == Harmony(strength=10.0, cut=0.8, source="prompt")
    shipped = request_from_config(compose("generate", ["seconds=1"])).harmony
    assert shipped == Harmony(**OmegaConf.load(CONF / "generate.yaml").harmony)
    with pytest.raises(UserError, match=r"^harmony.cut must be in \(0, 1\]"):
        request_from_config(compose("generate", ["harmony.cut=2", "seconds=1"]))


def test_the_api_runs_and_records_harmony(tmp_path):
    gen = Generator.from_checkpoint(make_export(tmp_path / "tiny"), device="cpu")
    prompt = torch.cat([chord(0.4, shift=6), chord(0.3)])
    settings = {"geometry.window_seconds": 0.5, "geometry.context_seconds": 0.1}
    kwargs = {"sampler": "ddim", "sampler_params": {"num_steps": 4, "eta": 1.0}}
    kwargs |= {"extender": "interpolation", "include_prompt": False}
    off, _ = gen.extend(prompt, 0.4, settings={**settings, "harmony.strength": 0}, **kwargs)
    assert gen.last_run.choices()["harmony"]["strength"] == 0.0
    on, _ = gen.extend(prompt, 0.4, settings={**settings, "harmony.strength": 10}, **kwargs)
    assert gen.last_run.choices()["harmony"] == {
        "strength": 10.0,
        "cut": 0.8,
        "source": "prompt",
        "taper": 0.2,
    }
    assert on.shape == off.shape and not torch.allclose(on, off)
