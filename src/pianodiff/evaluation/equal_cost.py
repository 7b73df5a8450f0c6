"""Compare extenders at equal cost: each gets the longest plan its budget of network calls buys.

A fair comparison of inpainting strategies fixes what they may spend, not how many levels
they walk: RePaint revisits levels, guidance adds a backward pass per step. The cost of one
run is counted in forward-pass equivalents (``Inpainter.cost_in_forwards``: a backward pass
counts as two), the project's one cost formula, so guidance pays for its gradients.
"""

from __future__ import annotations

from typing import Any

from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.evaluation.models import EvaluationError
from pianodiff.generation.configs import build_plan, load_group_config


def check_budget(value: Any) -> float | None:
    """``equal_cost`` as a positive number of forward passes, or None; else one clear line."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise EvaluationError(
            f"equal_cost must be a positive number of forward passes per window "
            f"(e.g. equal_cost=12) or null, got {value!r}"
        )
    return float(value)


def plan_within_cost(
    inpainter: Inpainter,
    sampler: str,
    schedule: NoiseSchedule,
    budget: float,
    **overrides: Any,
) -> SamplingPlan:
    """The plan of ``sampler`` with the most steps whose run costs at most ``budget``.

    ``sampler`` must take ``num_steps`` (``ddim``, ``dpmpp_2m``); the cost of a run is
    ``inpainter.cost_in_forwards(plan)``. Raises EvaluationError when no step count fits.
    """
    if "num_steps" not in load_group_config("sampler", sampler):
        raise EvaluationError(
            f"equal_cost needs samplers with a step count (ddim, dpmpp_2m); '{sampler}' has "
            "a fixed plan: drop it from samplers or set equal_cost=null"
        )
    best: SamplingPlan | None = None
    for steps in range(1, schedule.num_steps + 1):
        plan = build_plan(sampler, schedule, **{**overrides, "num_steps": steps})
        if inpainter.cost_in_forwards(plan) <= budget:  # not monotone for RePaint: scan all
            best = plan
    if best is None:
        one_step = build_plan(sampler, schedule, **{**overrides, "num_steps": 1})
        cheapest = inpainter.cost_in_forwards(one_step)
        raise EvaluationError(
            f"equal_cost={budget:g} buys no plan for {inpainter.name}: one step costs "
            f"{cheapest:g} forward passes; raise equal_cost"
        )
    return best
