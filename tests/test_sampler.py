"""The reverse loop walking every plan, and its per-step callback."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from pianodiff.conf import CONF_DIR, group_choices
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.plan import ddim_plan
from pianodiff.diffusion.sampler import check_walk, sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import load_group_config
from pianodiff.inpaint.repaint import RePaint

SCHEDULE = linear_schedule(12, 1e-4, 0.2)


@pytest.mark.parametrize("sampler", group_choices("sampler"))
def test_sampler_configs_build_plans_from_the_schedule(sampler):
    free = "num_steps" in load_group_config("sampler", sampler)
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        overrides = [f"sampler={sampler}", *(["sampler.num_steps=5"] if free else [])]
        cfg = compose("generate", overrides=overrides)
    plan = instantiate(cfg.sampler)(schedule=SCHEDULE)
    expected = {"ddpm": 12, "fast": 6, "restart4": 4, "restart6": 6}.get(sampler, 5)
    assert plan.num_levels == expected and float(plan.alpha_bar[0]) == 1.0
    assert bool((plan.net_steps[1:] <= SCHEDULE.num_steps - 1).all())
    # a plan is named by its step rule and length; named points (dpmpp_2m_sde20) too
    assert plan.name == f"{sampler.rstrip('0123456789')}{expected}"


def test_check_walk_rejects_bad_walks():
    check_walk([3, 2, 3, 2, 1, 0], 3)
    for bad in ([3, 1, 0], [2, 1, 0], [3, 2, 1], [3, 4, 3, 2, 1, 0]):
        with pytest.raises(ValueError):
            check_walk(bad, 3)


def test_callback_sees_every_move_of_a_repaint_walk():
    torch.manual_seed(0)
    net = instantiate(
        {
            "_target_": "pianodiff.nets.DiffWave",
            "residual_layers": 2,
            "residual_channels": 4,
            "dilation_cycle": 2,
        }
    )
    plan = ddim_plan(SCHEDULE, 6, eta=0.5)
    inpainter = RePaint(jump_length=2, n_resample=2)
    mask = torch.zeros(1, 256)
    mask[:, :100] = 1
    ctx = InpaintContext(torch.full((1, 256), 0.1), mask, plan, torch.Generator().manual_seed(0))
    payloads = []
    denoiser = Denoiser(net)
    with torch.no_grad():
        sample(denoiser, inpainter, ctx, callback=lambda p: payloads.append(dict(p)))
    walk = inpainter.walk(plan)
    assert [p["level"] for p in payloads] == walk[:-1]
    assert [p["next_level"] for p in payloads] == walk[1:]
    ups = [p for p in payloads if p["direction"] == "up"]
    assert ups and all(p["x0_hat"] is None for p in ups)
    downs = [p for p in payloads if p["direction"] == "down"]
    assert all(p["x0_hat"].shape == (1, 256) for p in downs)
    assert payloads[-1]["nfe"] == denoiser.nfe == inpainter.nfe(plan)
    assert {"t", "alpha_bar", "x_t", "known_mask", "index"} <= set(payloads[0])
