"""Pitch-profile conditioning: the net's profile input, classifier-free guidance on it, and
the profile reaching every extension window through the engine and the one pipeline.

A tiny profile-conditioned multi-rate net with random output and profile weights stands in
for a trained one (its estimates are noise, but noise that depends on the profile).
"""

from __future__ import annotations

import json
import math

import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from test_generate import FAST, make_export
from test_inpaint import EXTENDERS, PLANS, _known, _mask

from pianodiff.api import Generator
from pianodiff.checkpoint.export import export_model, load_export
from pianodiff.conf import CONF_DIR, compose
from pianodiff.core.errors import UserError
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import ddim_plan
from pianodiff.diffusion.profile_guidance import ProfileGuidedDenoiser, profile_input
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender
from pianodiff.generation.engine import WindowedGenerator, prompt_tail_seconds
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.pipeline import generate, make_denoiser, request_from_config
from pianodiff.generation.profile_conditioning import (
    ProfileConditioning,
    ProfileConditioningError,
)
from pianodiff.generation.run import run_generation
from pianodiff.measures.past_profile import past_profile
from pianodiff.nets import MultiRateDiffWave
from pianodiff.training.run import compose_train_config

SR = 22050
CONF = CONF_DIR
SCHEDULE = linear_schedule(8, 1e-4, 0.25)
DIFFUSION = {
    "_target_": "pianodiff.diffusion.schedule.linear_schedule",
    "num_steps": 8,
    "beta_start": 1e-4,
    "beta_end": 0.25,
}
TINY_NET = {
    "_target_": "pianodiff.nets.MultiRateDiffWave",
    "frame": 2,
    "residual_layers": 4,
    "residual_channels": 8,
    "dilation_cycle": 2,
    "context": True,
    "profile_bins": 12,
    "profile_seconds": 1.0,
}


def chord(seconds: float, midis=(60, 64, 67), shift: int = 0) -> torch.Tensor:
    """A sustained chord, three partials a note: (T,) float32."""
    t = torch.arange(int(seconds * SR)) / SR
    wave = sum(
        torch.sin(2 * math.pi * k * 440.0 * 2 ** ((m + shift - 69) / 12) * t) / k
        for m in midis
        for k in (1, 2, 3)
    )
    return (0.2 * wave / wave.abs().max()).float()


def tiny_profile_net(**overrides) -> MultiRateDiffWave:
    """The tiny net with random output and profile weights (both zero-initialised)."""
    torch.manual_seed(0)
    net = MultiRateDiffWave(**{k: v for k, v in TINY_NET.items() if k != "_target_"} | overrides)
    torch.nn.init.normal_(net.framed.output_projection.weight, std=0.2)
    if net.profile_projection is not None:
        torch.nn.init.normal_(net.profile_projection.weight, std=0.5)
    return net.eval()


def c_major() -> torch.Tensor:
    return past_profile(chord(1.0), SR, 1.0, 12)


# -- the network ----------------------------------------------------------------------------


def test_a_zero_initialised_profile_layer_is_the_net_without_it():
    torch.manual_seed(1)
    plain = MultiRateDiffWave(frame=2, residual_layers=3, residual_channels=8, context=True)
    torch.nn.init.normal_(plain.framed.output_projection.weight, std=0.2)
    profiled = MultiRateDiffWave(
        frame=2, residual_layers=3, residual_channels=8, context=True, profile_bins=12
    )
    missing, unexpected = profiled.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["profile_projection.weight"] and not unexpected
    assert not profiled.profile_projection.weight.any()  # zero-initialised
    x, t = torch.randn(2, 300), torch.tensor([3.0, 5.0])
    known, mask = torch.randn(2, 300), (torch.arange(300) < 100).float().expand(2, -1)
    profile = torch.stack([c_major(), torch.roll(c_major(), 6)])
    expected = plain(x, t, known=known, mask=mask)
    assert torch.equal(profiled(x, t, known=known, mask=mask, profile=profile), expected)
    assert torch.equal(profiled(x, t, known=known, mask=mask), expected)


def test_an_empty_profile_is_the_unconditional_net_at_any_weights():
    net = tiny_profile_net()
    assert net.accepts_profile and net.profile_projection.weight.abs().sum() > 0
    x, t = torch.randn(2, 256), torch.tensor([2.0, 6.0])
    unconditional = net(x, t)
    assert torch.equal(net(x, t, profile=torch.zeros(2, 12)), unconditional)
    conditioned = net(x, t, profile=c_major().expand(2, -1))
    assert not torch.allclose(conditioned, unconditional)


def test_profile_input_is_checked():
    with pytest.raises(ValueError, match="profile_bins must be 0, 12 or 128"):
        MultiRateDiffWave(frame=2, residual_layers=2, residual_channels=4, profile_bins=7)
    plain = MultiRateDiffWave(frame=2, residual_layers=2, residual_channels=4)
    assert not plain.accepts_profile and profile_input(plain) is None
    with pytest.raises(ValueError, match="takes no profile"):
        plain(torch.randn(1, 64), torch.ones(1), profile=torch.zeros(1, 12))
    with pytest.raises(ValueError, match=r"profile must be \(B, 12\)"):
        tiny_profile_net()(torch.randn(1, 64), torch.ones(1), profile=torch.zeros(1, 128))


def test_the_shipped_profile_model_is_framed16_ctx_plus_one_layer():
    cfg = compose_train_config(["model=framed16_ctx_profile", "diffusion=logsnr50"])
    base = compose_train_config(["model=framed16_ctx", "diffusion=logsnr50"])
    model, plain = instantiate(cfg.model), instantiate(base.model)
    assert profile_input(model) == (12, 6.0)  # found through the preconditioning wrapper
    assert profile_input(plain) is None
    hidden = cfg.model.net.get("step_hidden_dim", 512)
    assert model.num_parameters() == plain.num_parameters() + 12 * hidden


# -- classifier-free guidance ----------------------------------------------------------------


@pytest.fixture(scope="module")
def net() -> MultiRateDiffWave:
    return tiny_profile_net()


def test_guidance_scale_one_is_the_conditional_net_and_zero_the_unconditional(net):
    x, known, mask = torch.randn(3, 512), torch.randn(3, 512), torch.zeros(3, 512)
    mask[:, :128] = 1.0
    profile = c_major()
    with torch.no_grad():
        cond = net(x, torch.full((3,), 4.0), known=known, mask=mask, profile=profile.expand(3, -1))
        uncond = net(x, torch.full((3,), 4.0), known=known, mask=mask)
        results = {}
        for w in (1.0, 0.0, 3.0):
            base = Denoiser(net)
            guided = ProfileGuidedDenoiser(base, profile, w)
            results[w] = guided(x, 4.0, known=known, mask=mask)
            assert guided.nfe == base.nfe == (2 if w == 3.0 else 1)
    assert torch.equal(results[1.0], cond)
    assert torch.equal(results[0.0], uncond)
    assert torch.allclose(results[3.0], uncond + 3.0 * (cond - uncond), atol=1e-6)
    assert not torch.allclose(results[3.0], cond)


@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("name", EXTENDERS)
def test_contract_with_profile_guidance(net, name, plan_name):
    """Every extender on every sampler keeps its contract with a guided profile net; the
    guidance doubles the network calls and changes the generated region."""
    plan = PLANS[plan_name]

    def run(scale: float | None, seed: int = 1):
        inpainter = build_extender(name)
        base = Denoiser(net)
        denoiser = base if scale is None else ProfileGuidedDenoiser(base, c_major(), scale)
        ctx = InpaintContext(_known(), _mask("prefix"), plan, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            return sample(denoiser, inpainter, ctx), base.nfe, inpainter, ctx

    plain, plain_nfe, inpainter, ctx = run(None)
    x, nfe, _, _ = run(2.0)
    assert x.shape == ctx.mask.shape and torch.isfinite(x).all()
    assert plain_nfe == inpainter.nfe(plan) and nfe == 2 * inpainter.nfe(plan)
    known = ctx.mask.bool()
    if inpainter.keeps_known_exactly:
        assert torch.equal(x[known], ctx.known[known])
    assert not torch.allclose(x[~known], plain[~known])
    assert torch.equal(x, run(2.0)[0]) and not torch.equal(x, run(2.0, seed=2)[0])
    assert torch.equal(run(0.0)[0], plain)  # w = 0: the unconditional net, bit for bit


# -- the windowed engine ---------------------------------------------------------------------


class Spy:
    """Records the profile every network call is handed (None: unconditional)."""

    def __init__(self, net: MultiRateDiffWave):
        self.net, self.seen = net, []

    def __enter__(self):
        original = self.net.forward

        def forward(*args, profile=None, **kwargs):
            self.seen.append(None if profile is None else profile[0].clone())
            return original(*args, profile=profile, **kwargs)

        self.net.forward = forward
        return self

    def __exit__(self, *exc):
        del self.net.forward


GEOMETRY = Geometry(window_seconds=1.0, context_seconds=0.25, crossfade_seconds=0.02)


def engine_run(net, prompt, settings, seconds=1.5, extender="replacement"):
    plan = ddim_plan(SCHEDULE, 3, eta=1.0)
    engine = WindowedGenerator(
        Denoiser(net),
        build_extender(extender),
        plan,
        GEOMETRY,
        generator=torch.Generator().manual_seed(0),
        pitch_profile=settings,
    )
    with torch.no_grad():
        return engine.generate(seconds, prompt), engine


def test_every_window_hears_the_profile_of_the_audio_before_it(net):
    prompt = torch.cat([chord(1.0), chord(0.5, shift=5)])
    with Spy(net) as spy:
        long, engine = engine_run(net, prompt, ProfileConditioning(source="all"))
    starts = [seam - round(0.25 * SR) for seam in long.seams]
    per_window = len(spy.seen) // len(starts)
    assert per_window == 3 and len(spy.seen) == 3 * len(starts)  # w = 1: one call a step
    for k, start in enumerate(starts):
        # the finished audio before a window's start is what existed when it was sampled
        expected = past_profile(long.audio, start, 1.0, 12)
        for seen in spy.seen[k * per_window : (k + 1) * per_window]:
            assert torch.equal(seen, expected)
    assert engine.profile_record()["ran"] and engine.profile_record()["bins"] == 12


def test_no_sample_from_the_first_window_on_reaches_the_prompt_profile(net):
    """source=prompt: the profile is the prompt's before the first window, in every window:
    two prompts that differ only inside that window give the same profile."""
    head = chord(1.0)
    a = torch.cat([head, chord(0.25, shift=6)])
    b = torch.cat([head, 0.5 * chord(0.25, shift=1)])
    profiles = []
    for prompt in (a, b):
        with Spy(net) as spy:
            engine_run(net, prompt, ProfileConditioning(source="prompt"))
        assert all(torch.equal(seen, spy.seen[0]) for seen in spy.seen)
        profiles.append(spy.seen[0])
    assert torch.equal(profiles[0], profiles[1])
    assert torch.equal(profiles[0], past_profile(head, len(head), 1.0, 12))


def test_the_profile_steers_the_continuation_and_guidance_doubles_the_calls(net):
    tail = chord(0.25, midis=(62,))
    in_c, in_f_sharp = torch.cat([chord(1.0), tail]), torch.cat([chord(1.0, shift=6), tail])
    off = ProfileConditioning(use=False)
    assert torch.equal(
        engine_run(net, in_c, off)[0].audio[-SR:], engine_run(net, in_f_sharp, off)[0].audio[-SR:]
    )
    on = ProfileConditioning(scale=1.0)
    a, b = engine_run(net, in_c, on)[0], engine_run(net, in_f_sharp, on)[0]
    assert not torch.allclose(a.audio[-SR:], b.audio[-SR:])
    guided, engine = engine_run(net, in_c, ProfileConditioning(scale=3.0))
    assert guided.cost.nfe == 2 * a.cost.nfe
    assert not torch.allclose(guided.audio[-SR:], a.audio[-SR:])


def test_a_net_without_the_profile_input_refuses_the_options_in_one_line():
    plain = tiny_profile_net(profile_bins=0)
    prompt = chord(1.5)
    for settings in (ProfileConditioning(use=True), ProfileConditioning(scale=2.0)):
        with pytest.raises(
            ProfileConditioningError, match="needs a profile-conditioned model"
        ) as err:
            engine_run(plain, prompt, settings)
        assert "\n" not in str(err.value) and isinstance(err.value, UserError)
    quiet, engine = engine_run(plain, prompt, ProfileConditioning())  # auto: simply off
    assert engine.profile is None and engine.profile_record()["ran"] is False
    assert torch.equal(quiet.audio, engine_run(plain, prompt, None)[0].audio)


# -- settings through the one pipeline -------------------------------------------------------


def test_generate_config_threads_the_profile_settings_into_the_request():
    shipped = request_from_config(compose("generate", ["seconds=1"])).pitch_profile
    assert shipped == ProfileConditioning(**OmegaConf.load(CONF / "generate.yaml").pitch_profile)
    assert shipped == ProfileConditioning(use="auto", scale=1.0, source="prompt")
    request = request_from_config(
        compose("generate", ["seconds=1", "pitch_profile.scale=3", "pitch_profile.use=true"])
    )
    assert request.pitch_profile == ProfileConditioning(use="true", scale=3.0, source="prompt")
    for override, message in [
        ("pitch_profile.scale=-1", r"^pitch_profile.scale must be a number from 0 to 20"),
        ("pitch_profile.use=maybe", r"^pitch_profile.use must be auto, true or false"),
        ("pitch_profile.source=future", r"^pitch_profile.source must be one of prompt, all"),
    ]:
        with pytest.raises(UserError, match=message):
            request_from_config(compose("generate", ["seconds=1", override]))


def test_a_prompt_file_is_read_far_enough_back_for_the_longest_profile():
    geometry = Geometry()
    plain = prompt_tail_seconds(geometry)
    assert prompt_tail_seconds(geometry, None, ProfileConditioning(use=False)) == plain
    assert prompt_tail_seconds(geometry, None, ProfileConditioning()) == pytest.approx(31.05)


def make_profile_export(folder) -> str:
    net = tiny_profile_net()
    model = {
        "_target_": "pianodiff.diffusion.preconditioning.PreconditionedEps",
        "data_std": 0.1,
        "schedule": DIFFUSION,
        "net": TINY_NET,
    }
    wrapped = instantiate(model)
    wrapped.net.load_state_dict(net.state_dict())
    return str(export_model(folder, wrapped.state_dict(), model, DIFFUSION, {"sample_rate": SR}))


def test_the_pipeline_runs_a_guided_profile_model_and_records_it(tmp_path):
    model = load_export(make_profile_export(tmp_path / "profiled"))
    sf.write(tmp_path / "p.wav", torch.cat([chord(1.0), chord(0.5, shift=4)]).numpy(), SR)
    runs = {}
    for scale in (1.0, 2.5):
        cfg = compose(
            "generate",
            [*FAST, "seconds=0.6", f"prompt={tmp_path / 'p.wav'}", f"pitch_profile.scale={scale}"],
        )
        request = request_from_config(cfg)
        denoiser, bf16 = make_denoiser(model.net, model.schedule, False)
        runs[scale] = generate(denoiser, request, model.schedule, bf16=bf16)
    record = runs[2.5].choices()["pitch_profile"]
    assert record == {
        "use": "auto",
        "scale": 2.5,
        "source": "prompt",
        "ran": True,
        "bins": 12,
        "seconds": 1.0,
    }
    assert runs[2.5].long.cost.nfe == 2 * runs[1.0].long.cost.nfe
    out = tmp_path / "o.wav"
    cfg = compose(
        "generate",
        [
            *FAST,
            "seconds=0.3",
            f"prompt={tmp_path / 'p.wav'}",
            f"checkpoint={tmp_path / 'profiled'}",
            f"output={out}",
            "pitch_profile.scale=2",
        ],
    )
    run_generation(cfg)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["pitch_profile"]["ran"] is True and sidecar["pitch_profile"]["scale"] == 2.0
    assert sidecar["nfe_per_walk"] == 2 * 2  # DDIM with 2 steps, two calls a step


def test_the_pipeline_refuses_the_options_on_a_model_without_the_input(tmp_path):
    checkpoint = make_export(tmp_path / "tiny")
    out = tmp_path / "o.wav"
    cfg = compose(
        "generate",
        [
            *FAST,
            "seconds=0.3",
            f"checkpoint={checkpoint}",
            f"output={out}",
            "pitch_profile.use=true",
        ],
    )
    with pytest.raises(UserError, match="needs a profile-conditioned model") as err:
        run_generation(cfg)
    assert "\n" not in str(err.value) and not out.exists()
    cfg = compose("generate", [*FAST, "seconds=0.3", f"checkpoint={checkpoint}", f"output={out}"])
    run_generation(cfg)  # the shipped settings (auto, w = 1) run on any model
    assert json.loads(out.with_suffix(".json").read_text())["pitch_profile"]["ran"] is False


def test_the_api_takes_the_scale_as_a_setting(tmp_path):
    gen = Generator.from_checkpoint(make_profile_export(tmp_path / "profiled"), device="cpu")
    prompt = torch.cat([chord(1.0), chord(0.3, shift=2)])
    kwargs = {"sampler": "ddim", "sampler_params": {"num_steps": 2}, "include_prompt": False}
    geometry = {"geometry.window_seconds": 0.5, "geometry.context_seconds": 0.1}
    plain, _ = gen.extend(prompt, 0.4, settings=geometry, **kwargs)
    assert gen.last_run.choices()["pitch_profile"]["ran"] is True
    guided, _ = gen.extend(prompt, 0.4, settings={**geometry, "pitch_profile.scale": 2}, **kwargs)
    assert gen.last_run.choices()["pitch_profile"]["scale"] == 2.0
    assert gen.last_run.long.cost.nfe == 2 * 2 * 1  # one window, 2 steps, 2 calls a step
    assert guided.shape == plain.shape and not torch.allclose(guided, plain)
