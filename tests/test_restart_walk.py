"""The restart walk of a distilled student: its move and its plan over any schedule."""

from __future__ import annotations

import pytest
import torch

from pianodiff.diffusion.plan import restart_plan
from pianodiff.diffusion.schedule import linear_schedule, log_snr_schedule
from pianodiff.diffusion.solvers.restart import restart
from pianodiff.diffusion.solvers.step import SolverStep
from pianodiff.generation.configs import build_plan


def test_a_move_puts_fresh_noise_on_the_estimate_and_ends_on_it():
    x0_hat = torch.linspace(-0.5, 0.5, 16).unsqueeze(0)
    z = torch.randn(1, 16, generator=torch.Generator().manual_seed(1))
    x_t = torch.full((1, 16), 7.0)  # nothing of x_t survives a move
    step = SolverStep(x_t, torch.zeros(1, 16), x0_hat, 0.3, 0.8, 1.0, lambda _: z)
    assert torch.allclose(restart(step), 0.8**0.5 * x0_hat + 0.2**0.5 * z)
    last = SolverStep(x_t, torch.zeros(1, 16), x0_hat, 0.8, 1.0, 1.0, lambda _: z)
    assert torch.equal(restart(last), x0_hat)


def test_on_a_50_step_schedule_the_levels_are_the_listed_training_steps():
    schedule = log_snr_schedule(50)
    plan = build_plan("restart6", schedule)
    assert plan.net_steps.tolist() == [0.0, 19.0, 28.0, 36.0, 40.0, 45.0, 49.0]
    listed = schedule.alpha_bar.double()[[19, 28, 36, 40, 45, 49]]
    assert torch.allclose(plan.alpha_bar[1:], listed, rtol=0, atol=1e-12)
    assert plan.solver is restart and plan.name == "restart6" and plan.num_levels == 6


def test_on_another_schedule_the_levels_keep_their_place():
    schedule = linear_schedule(8, 1e-4, 0.25)
    plan = restart_plan(schedule, steps=(0, 24, 49))
    assert plan.net_steps.tolist() == pytest.approx([0.0, 0.0, 24 * 7 / 49, 7.0])
    # ᾱ interpolated in √ᾱ between training steps 3 and 4, and the two ends exact.
    root = schedule.alpha_bar.double().sqrt()
    frac = 24 * 7 / 49 - 3
    assert float(plan.alpha_bar[2]) == pytest.approx(
        float((1 - frac) * root[3] + frac * root[4]) ** 2
    )
    assert float(plan.alpha_bar[1]) == pytest.approx(float(schedule.alpha_bar[0]))
    assert float(plan.alpha_bar[3]) == pytest.approx(float(schedule.alpha_bar[7]))


@pytest.mark.parametrize("steps", [(), (3, 3), (-1, 5), (5, 50)])
def test_a_bad_list_of_steps_is_refused(steps):
    with pytest.raises(ValueError, match="restart steps"):
        restart_plan(log_snr_schedule(50), steps=steps)
