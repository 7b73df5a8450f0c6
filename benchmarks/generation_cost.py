"""Generation cost: NFE and network-audio-seconds per output second for every extender ×
sampler, wall time at small size on CPU, and the original geometry as the baseline.

    python -m benchmarks.generation_cost [--quick]

Network-audio-seconds per output second = NFE per window × window
seconds ÷ new seconds per window: hardware-free. The baseline is the original project's
setting (geometry=original: 5 s windows, 4 s context, T = 200 ancestral DDPM, interpolation)
= 200 × 5 / 1 = 1000. Wall times run a randomly initialised DiffWave "small" (12 × 48) on
this machine's CPU; the original geometry's wall time is too long to run here (1000
forwards of 5 s per output second), so its row is estimated from a measured forward of one
5 s window in the same run (marked "estimated").
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import pianodiff
from pianodiff.conf import group_choices, primary_defaults
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.generation.configs import build_extender, build_plan, load_group_config
from pianodiff.generation.cost import steady_state_cost
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.pipeline import GenerationRequest, generate

SR = pianodiff.SAMPLE_RATE
SAMPLERS = tuple(group_choices("sampler"))  # every shipped sampler


DEFAULT = (primary_defaults("generate")["extender"], primary_defaults("generate")["sampler"])
UNIT_NAS = "network-audio-s per output s"
UNIT_WALL = "wall s per output s"


def _load_yaml(group: str, name: str) -> dict:
    return OmegaConf.to_container(load_group_config(group, name))


def _geometry(name: str) -> Geometry:
    node = _load_yaml("geometry", name)
    return Geometry(**node.get("geometry", node))


def cost_rows(schedule_steps: int = 200) -> list[dict]:
    """Hardware-free cost of every extender × sampler against the original geometry."""
    schedule = linear_schedule(schedule_steps)
    original = _geometry("original")
    base_nfe = build_extender("interpolation").nfe(build_plan("ddpm", schedule))
    baseline = steady_state_cost(base_nfe, original.window_seconds, original.new_seconds)
    default_geom = _geometry("default")
    rows = [_row("gen/nas_per_s/original(interpolation+ddpm200,5s/4s)", baseline, baseline)]
    for extender in group_choices("extender"):
        for sampler in SAMPLERS:
            inpainter, plan = build_extender(extender), build_plan(sampler, schedule)
            nfe = inpainter.nfe(plan)
            nas = steady_state_cost(nfe, default_geom.window_seconds, default_geom.new_seconds)
            fwd = inpainter.cost_in_forwards(plan)
            fwd_nas = steady_state_cost(fwd, default_geom.window_seconds, default_geom.new_seconds)
            tag = f"{extender}+{plan.name}"
            rows.append(_row(f"gen/nfe_per_window/{tag}", nfe, base_nfe, "NFE per window"))
            rows.append(_row(f"gen/nas_per_s/{tag}", nas, baseline))
            if fwd != nfe:  # guidance: a backward pass counts as two forwards
                rows.append(_row(f"gen/forward_equiv_nas_per_s/{tag}", fwd_nas, baseline))
    return rows


def _row(name: str, value: float, baseline: float, unit: str = UNIT_NAS) -> dict:
    return {
        "name": name,
        "value": float(value),
        "baseline": float(baseline),
        "ratio": float(baseline) / float(value) if value else float("inf"),
        "unit": unit,
    }


def _small_denoiser(bf16: bool = False) -> Denoiser:
    torch.manual_seed(0)
    net = instantiate(_load_yaml("model", "small"))
    torch.nn.init.normal_(net.output_projection.weight, std=0.05)  # not a constant predictor
    return Denoiser(net.eval(), torch.bfloat16 if bf16 else None)


def _wall(denoiser, extender: str, sampler: str, seconds: float, schedule):
    """Seconds of wall per output second continuing a 1 s tone, and the audio (T,)."""
    ground = 0.2 * torch.sin(torch.arange(SR) / SR * 2 * torch.pi * 262.0)
    geometry = _geometry("default")
    request = GenerationRequest(
        seconds, build_extender(extender), build_plan(sampler, schedule), geometry, ground
    )
    context = round(geometry.context_seconds * SR)
    with torch.no_grad():  # warm-up at the window's length (oneDNN picks kernels per shape)
        denoiser(torch.randn(1, context + round(seconds * SR)), 10.0)
    done = generate(denoiser, request, schedule)  # the pipeline every caller uses
    return done.wall_seconds / seconds, done.long.audio


def wall_rows(quick: bool = False) -> list[dict]:
    """Measured wall time per output second at small size, and the estimated baseline.

    The full run adds 4 s (one full 5 s window of the default geometry) per combination;
    quick adds 1.5 s. Replacement, RePaint and DDIM are not timed: they cost what
    interpolation + fast costs per NFE, and their NFE rows above give the factor.
    """
    schedule = linear_schedule(200)
    seconds = 1.5 if quick else 4.0
    denoiser = _small_denoiser()
    window = round(_geometry("original").window_seconds * SR)
    x = torch.randn(1, window)
    with torch.no_grad():
        denoiser(x, 10.0)  # warm-up
        start = time.perf_counter()
        repeats = 1 if quick else 2
        for _ in range(repeats):
            denoiser(x, 10.0)
    per_forward = (time.perf_counter() - start) / repeats
    baseline_nas = cost_rows()[0]["value"]
    baseline = per_forward * baseline_nas / _geometry("original").window_seconds
    rows = [_row("gen/wall_per_s/original(estimated)", baseline, baseline, UNIT_WALL)]
    fp32_wall, fp32_audio = _wall(denoiser, *DEFAULT, seconds, schedule)
    rows.append(_row(f"gen/wall_per_s/{'+'.join(DEFAULT)}", fp32_wall, baseline, UNIT_WALL))
    combos = [] if quick else [("guidance", DEFAULT[1])]
    for extender, sampler in combos:
        wall, _ = _wall(denoiser, extender, sampler, seconds, schedule)
        rows.append(_row(f"gen/wall_per_s/{extender}+{sampler}", wall, baseline, UNIT_WALL))
    bf16_wall, bf16_audio = _wall(_small_denoiser(bf16=True), *DEFAULT, seconds, schedule)
    rows.append(_row(f"gen/wall_per_s/{'+'.join(DEFAULT)}+bf16", bf16_wall, fp32_wall, UNIT_WALL))
    gap = float((bf16_audio - fp32_audio).norm() / fp32_audio.norm().clamp_min(1e-12))
    rows.append(
        {
            "name": "gen/bf16_relative_difference",
            "value": gap,
            "baseline": 0.0,
            "ratio": 0.0,
            "unit": "||bf16 - fp32|| / ||fp32|| of the same seeded output",
        }
    )
    return rows


def main(quick: bool = False) -> list[dict]:
    """All rows: hardware-free cost for every combination, then measured wall times."""
    return cost_rows() + wall_rows(quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in main(parser.parse_args().quick):
        print(f"{row['name']:60s} {row['value']:12.4g}  x{row['ratio']:8.2f}  {row['unit']}")
