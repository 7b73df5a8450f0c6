"""Level spacing of ``ddim_plan`` (``rho``) and the first-order final move
(``lower_order_final``, diffusion/solvers/lower_order_final.py): the training steps a plan
visits, the move the wrapper changes, one-line errors for bad values, and the shipped
``dpmpp_2m_sde6`` option (the draft preset's sampler) built from its YAML."""

from __future__ import annotations

import math

import pytest
import torch

from pianodiff.diffusion.plan import ddim_plan
from pianodiff.diffusion.schedule import linear_schedule, log_snr_schedule
from pianodiff.diffusion.solvers.dpmpp_2m_sde import dpmpp_2m_sde
from pianodiff.diffusion.solvers.lower_order_final import LowerOrderFinal
from pianodiff.diffusion.solvers.step import Estimate, SolverStep, solver_name
from pianodiff.generation.configs import build_plan
from pianodiff.generation.errors import GenerationError

SCHEDULE = log_snr_schedule(50)  # the bundled model's: T = 50, +50 dB to -10 dB


def _visited(plan) -> list[int]:
    return [int(s) for s in plan.net_steps[1:]]


def test_rho_one_is_the_evenly_spaced_subsequence():
    """The levels of every evenly spaced plan are those it always had, ties at .5 included
    (T = 16 with 11 steps has one)."""
    for schedule in (SCHEDULE, linear_schedule(16, 1e-4, 0.2)):
        top = schedule.num_steps - 1
        for n in range(1, schedule.num_steps + 1):
            even = torch.linspace(0, top, n).round().long().tolist()
            assert _visited(ddim_plan(schedule, n)) == even
            assert _visited(ddim_plan(schedule, n, rho=1.0)) == even
    assert _visited(ddim_plan(SCHEDULE, 6)) == [0, 10, 20, 29, 39, 49]


def test_rho_below_one_spends_levels_near_noise_and_above_one_near_clean_audio():
    assert _visited(ddim_plan(SCHEDULE, 6, rho=0.6)) == [0, 19, 28, 36, 43, 49]
    assert _visited(ddim_plan(SCHEDULE, 6, rho=2.0)) == [0, 2, 8, 18, 31, 49]
    for rho in (0.5, 0.6, 1.5):
        plan = ddim_plan(SCHEDULE, 6, rho=rho)
        gaps = torch.diff(plan.net_steps[1:])
        assert bool((gaps[1:] < gaps[:-1]).all()) == (rho < 1)  # moves grow toward clean
        assert plan.net_steps[1] == 0 and plan.net_steps[-1] == 49  # both ends kept
        assert torch.equal(plan.alpha_bar[1:], SCHEDULE.alpha_bar[plan.net_steps[1:].long()])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rho": 0.0}, "ddim rho must be a number above 0"),
        ({"rho": -1.0}, "ddim rho must be a number above 0"),
        ({"rho": math.nan}, "ddim rho must be a number above 0"),
        ({"rho": "steep"}, "ddim rho must be a number above 0 .* got steep"),
        ({"rho": 3.0, "num_steps": 20}, r"ddim rho=3 puts two of 20 levels on one training"),
        ({"num_steps": 51}, r"ddim num_steps must be in 1\.\.50, got 51"),
    ],
)
def test_bad_spacing_is_one_clear_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        ddim_plan(SCHEDULE, **{"num_steps": 6, **kwargs})
    assert "\n" not in str(err.value)
    with pytest.raises(GenerationError, match=match) as err:  # through the shipped config
        build_plan("dpmpp_2m_sde6", SCHEDULE, **kwargs)
    assert "\n" not in str(err.value) and "(the checkpoint has T=50)" in str(err.value)


def _step(alpha_bar_next: float, previous: Estimate | None) -> SolverStep:
    g = torch.Generator().manual_seed(5)
    x, x0 = torch.randn(2, 64, generator=g), torch.randn(2, 64, generator=g)
    ab = 0.3
    eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
    draws = torch.Generator().manual_seed(7)
    return SolverStep(
        x, eps, x0, ab, alpha_bar_next, 1.0,
        lambda like: torch.randn(like.shape, generator=draws), previous,
    )  # fmt: skip


def test_lower_order_final_drops_the_history_only_on_the_move_onto_the_last_noisy_level():
    previous = Estimate(torch.randn(2, 64, generator=torch.Generator().manual_seed(9)), 0.1)
    last, other = 0.9, 0.6
    wrapped = LowerOrderFinal(dpmpp_2m_sde, last)
    # onto the last noisy level: the first-order move, as if there were no earlier estimate
    assert torch.equal(wrapped(_step(last, previous)), dpmpp_2m_sde(_step(last, None)))
    assert not torch.allclose(dpmpp_2m_sde(_step(last, previous)), wrapped(_step(last, previous)))
    # any other move: the wrapped rule unchanged, second order included
    assert torch.equal(wrapped(_step(other, previous)), dpmpp_2m_sde(_step(other, previous)))
    assert solver_name(wrapped) == "dpmpp_2m_sde"


def test_the_draft_sampler_is_spaced_toward_noise_with_a_first_order_final_move():
    plan = build_plan("dpmpp_2m_sde6", SCHEDULE)
    assert _visited(plan) == [0, 19, 28, 36, 43, 49] and plan.eta == 1.0
    assert isinstance(plan.solver, LowerOrderFinal)
    assert plan.solver.alpha_bar == float(SCHEDULE.alpha_bar[0]) == float(plan.alpha_bar[1])
    assert plan.name == "dpmpp_2m_sde6"
    plain = build_plan("dpmpp_2m_sde6", SCHEDULE, lower_order_final=False)
    assert plain.solver.func is dpmpp_2m_sde and _visited(plain) == _visited(plan)
