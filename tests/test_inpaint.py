"""The shared Inpainter contract, over every registered inpainter."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from pianodiff.conf import CONF_DIR, group_choices
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import ddpm_plan
from pianodiff.diffusion.preconditioning import accepts_context
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender, build_plan, load_group_config
from pianodiff.inpaint.conditioned import ContextNotAcceptedError
from pianodiff.inpaint.guidance import ReconstructionGuidance
from pianodiff.inpaint.harmony import HarmonyGuide
from pianodiff.inpaint.interpolation import Interpolation, lambda_schedule
from pianodiff.inpaint.repaint import RePaint, repaint_nfe, repaint_walk
from pianodiff.measures.pitch_profile import pitch_profile
from pianodiff.nets import MultiRateDiffWave

CONF = CONF_DIR
LENGTH = 1024
SCHEDULE = linear_schedule(8, 1e-4, 0.25)


def _shipped_plans() -> dict:
    """Every sampler of ``conf/sampler`` over SCHEDULE (4 levels where the count is free)."""
    plans = {}
    for name in group_choices("sampler"):
        cfg = load_group_config("sampler", name)
        plans[name] = build_plan(name, SCHEDULE, **({"num_steps": 4} if "num_steps" in cfg else {}))
    return plans


PLANS = _shipped_plans()


def _tiny_context_net() -> torch.nn.Module:
    """A tiny context-conditioned multi-rate net (frames of 2 samples)."""
    return MultiRateDiffWave(
        frame=2, residual_layers=4, residual_channels=8, dilation_cycle=2, context=True
    )


@pytest.fixture(scope="module", params=["diffwave", "multirate_context"])
def net(request) -> torch.nn.Module:
    """Every inpainter runs on the plain DiffWave and on a context-conditioned net."""
    torch.manual_seed(0)
    if request.param == "diffwave":
        model = instantiate(OmegaConf.load(CONF / "model" / "tiny.yaml"))
        output = model.output_projection
    else:
        model = _tiny_context_net()
        output = model.framed.output_projection
    # The zero-initialised output would make ε̂ ≡ 0; give it weights so x̂0 depends on x_t.
    torch.nn.init.normal_(output.weight, std=0.2)
    return model.eval()


def _refused(net, name) -> bool:
    """``conditioned`` needs a context-conditioned net; on any other it must refuse loudly.

    Returns True (the refusal checked) when that is the case, so the caller stops there.
    """
    if name != "conditioned" or accepts_context(net):
        return False
    with pytest.raises(ContextNotAcceptedError, match="context-conditioned model"):
        _run(net, name, PLANS["fast"])
    return True


def _mask(kind: str) -> torch.Tensor:
    mask = torch.zeros(2, LENGTH)
    if kind == "prefix":
        mask[:, :400] = 1.0
    else:  # known audio on both sides of a gap
        mask[:, :400] = 1.0
        mask[:, 700:] = 1.0
    return mask


def _known() -> torch.Tensor:
    t = torch.arange(LENGTH) / 22050
    return (0.3 * torch.sin(2 * math.pi * 440 * t)).expand(2, LENGTH).clone()


def _run(net, name, plan, mask_kind="prefix", seed=1):
    inpainter = instantiate(OmegaConf.load(CONF / "extender" / f"{name}.yaml"))
    denoiser = Denoiser(net)
    ctx = InpaintContext(_known(), _mask(mask_kind), plan, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = sample(denoiser, inpainter, ctx)
    return x, denoiser.nfe, inpainter, ctx


EXTENDERS = group_choices("extender")


def test_every_extender_config_builds_an_inpainter_of_its_name():
    for name in EXTENDERS:
        inpainter = build_extender(name)
        assert isinstance(inpainter, Inpainter) and inpainter.name == name


@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("name", EXTENDERS)
@pytest.mark.parametrize("mask_kind", ["prefix", "gap"])
def test_contract(net, name, plan_name, mask_kind):
    if _refused(net, name):
        return
    plan = PLANS[plan_name]
    x, nfe, inpainter, ctx = _run(net, name, plan, mask_kind)
    assert x.shape == ctx.mask.shape
    assert torch.isfinite(x).all()
    assert nfe == inpainter.nfe(plan)
    known = ctx.mask.bool()
    if inpainter.keeps_known_exactly:
        assert torch.equal(x[known], ctx.known[known])
    # The generated region is really generated: not left at the known audio or at zero.
    assert not torch.allclose(x[~known], ctx.known[~known])
    again, _, _, _ = _run(net, name, plan, mask_kind)
    assert torch.equal(x, again)
    other, _, _, _ = _run(net, name, plan, mask_kind, seed=2)
    assert not torch.equal(x, other)


@pytest.mark.parametrize("name", EXTENDERS)
def test_empty_mask_is_unconditional(net, name):
    if _refused(net, name):
        return
    inpainter = build_extender(name)
    plan = PLANS["fast"]
    ctx = InpaintContext(torch.zeros(1, 512), torch.zeros(1, 512), plan, torch.Generator())
    with torch.no_grad():
        x = sample(Denoiser(net), inpainter, ctx)
    assert x.shape == (1, 512) and torch.isfinite(x).all()


@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("name", EXTENDERS)
def test_contract_with_harmony_guidance(net, name, plan_name):
    """Harmony guidance is an x̂0 guide the loop applies: every extender on every sampler
    keeps its contract with it, and the generated region moves."""
    if _refused(net, name):
        return
    plan = PLANS[plan_name]
    plain, _, _, _ = _run(net, name, plan)
    guide = HarmonyGuide(pitch_profile(_known()[0]), strength=5.0, cut=1.0)

    def guided_run(seed=1):
        inpainter = build_extender(name)
        denoiser = Denoiser(net)
        generator = torch.Generator().manual_seed(seed)
        ctx = InpaintContext(_known(), _mask("prefix"), plan, generator, guide=guide)
        with torch.no_grad():
            return sample(denoiser, inpainter, ctx), denoiser.nfe, inpainter, ctx

    x, nfe, inpainter, ctx = guided_run()
    assert x.shape == ctx.mask.shape and torch.isfinite(x).all()
    assert nfe == inpainter.nfe(plan)  # the guide costs no network evaluation
    known = ctx.mask.bool()
    if inpainter.keeps_known_exactly:
        assert torch.equal(x[known], ctx.known[known])
    assert not torch.allclose(x[~known], plain[~known])
    assert torch.equal(x, guided_run()[0])


def test_declared_keeps_known():
    assert build_extender("replacement").keeps_known_exactly
    assert build_extender("repaint").keeps_known_exactly
    assert not build_extender("interpolation").keeps_known_exactly
    assert ReconstructionGuidance.backwards_per_step == 1


def _diffusers_timesteps(n: int, jump_length: int, jump_n_sample: int) -> list[int]:
    """diffusers' RePaintScheduler.set_timesteps (stride 1), transcribed as the reference."""
    timesteps, jumps = [], {}
    for j in range(0, n - jump_length, jump_length):
        jumps[j] = jump_n_sample - 1
    t = n
    while t >= 1:
        t = t - 1
        timesteps.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] = jumps[t] - 1
            for _ in range(jump_length):
                t = t + 1
                timesteps.append(t)
    return timesteps


def test_repaint_walk_hand_derived():
    # S=6, j=2, r=3: jump points 0 and 2, each revisited twice.
    expected = [6, 5, 4, 3, 2, 3, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0]
    assert repaint_walk(6, 2, 3) == expected
    assert repaint_nfe(6, 2, 3) == sum(1 for a, b in zip(expected, expected[1:]) if b < a) == 14


@pytest.mark.parametrize("n,j,r", [(250, 10, 10), (50, 10, 10), (20, 3, 4), (7, 10, 5), (1, 1, 3)])
def test_repaint_walk_matches_diffusers(n, j, r):
    walk = repaint_walk(n, j, r)
    assert walk == [n] + _diffusers_timesteps(n, j, r)
    downs = sum(1 for a, b in zip(walk, walk[1:]) if b == a - 1)
    assert downs == repaint_nfe(n, j, r)


def test_repaint_paper_cost():
    # Lugmayr et al.: j = 10, r = 10 at T = 250 costs about 9.6x plain sampling.
    assert repaint_nfe(250, 10, 10) / 250 == pytest.approx(9.64)
    plan = ddpm_plan(linear_schedule(250))
    assert RePaint(10, 10).nfe(plan) == 2410


def test_repaint_short_plan_still_jumps():
    fast = PLANS["fast"]  # 6 levels: j clamped to 2
    assert RePaint(10, 10).effective_jump(fast) == 2
    assert RePaint(10, 10).nfe(fast) > fast.num_levels
    assert RePaint(10, 1).nfe(fast) == fast.num_levels  # r = 1 is replacement


def test_lambda_schedules():
    original = lambda_schedule("original", 200)
    # The original formula at i = 199 before the last-step override, and λ_0 = 0.
    assert float(((0.3704 * math.e) ** (0.5 * 199) - 1) ** 4) == pytest.approx(0.895, abs=2e-3)
    assert original[0] == 0.0 and original[-1] == 1.0
    assert original[198] == pytest.approx(((0.3704 * math.e) ** 99 - 1) ** 4)
    for name in ("original", "linear", "cosine", "power"):
        for levels in (1, 6, 20, 200):
            lam = lambda_schedule(name, levels)
            assert lam.shape == (levels,) and lam[-1] == 1.0
            assert bool((lam[1:] >= lam[:-1]).all()) and bool((lam >= 0).all())
    with pytest.raises(ValueError, match="choose"):
        Interpolation(schedule="nope")


def test_interpolation_reports_lambda(net):
    seen = []
    inpainter = Interpolation()
    plan = PLANS["fast"]
    ctx = InpaintContext(_known(), _mask("prefix"), plan, torch.Generator().manual_seed(0))
    with torch.no_grad():
        sample(Denoiser(net), inpainter, ctx, callback=lambda p: seen.append(p["lambda"]))
    assert seen == [float(v) for v in lambda_schedule("original", plan.num_levels)]


def test_guidance_gradient_changes_the_result(net):
    plan = PLANS["ddpm"]
    outs = []
    for xi in (0.0, 0.5):
        ctx = InpaintContext(_known(), _mask("prefix"), plan, torch.Generator().manual_seed(3))
        with torch.no_grad():
            outs.append(sample(Denoiser(net), ReconstructionGuidance(xi), ctx))
    assert not torch.allclose(outs[0], outs[1])


def test_guidance_refuses_inference_mode(net):
    ctx = InpaintContext(_known(), _mask("prefix"), PLANS["fast"], torch.Generator())
    with torch.inference_mode(), pytest.raises(RuntimeError, match="no_grad"):
        sample(Denoiser(net), ReconstructionGuidance(), ctx)


def test_conditioned_hands_the_context_to_the_net():
    """The same net and seed: conditioned differs from replacement only where the net's
    context input reaches (its receptive field around the known audio)."""
    torch.manual_seed(0)
    model = _tiny_context_net().eval()
    torch.nn.init.normal_(model.framed.output_projection.weight, std=0.2)
    plan = PLANS["ddim"]
    outs = {}
    for name in ("conditioned", "replacement"):
        ctx = InpaintContext(_known(), _mask("prefix"), plan, torch.Generator().manual_seed(5))
        with torch.no_grad():
            outs[name] = sample(Denoiser(model), build_extender(name), ctx)
    field = model.receptive_field  # 2 x 7 samples; each of the 4 steps widens the reach
    near, far = slice(400, 400 + field // 2), slice(400 + 4 * field, LENGTH)
    assert not torch.allclose(outs["conditioned"][:, near], outs["replacement"][:, near])
    assert torch.equal(outs["conditioned"][:, far], outs["replacement"][:, far])
    assert torch.equal(outs["conditioned"][:, :400], _known()[:, :400])
