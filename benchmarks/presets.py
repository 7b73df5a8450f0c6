"""Every preset against today's default, on this host: the figures ``generate`` users feel.

    python -m benchmarks.presets [--quick]

In one run, with the bundled model on the CPU (or the first CUDA card):

1. the host kind: processor, cores, the bf16 instruction flags it reports (named, never
   used to decide anything) and the GEMM floors: GFLOP/s of a 2048² matmul in fp32 and bf16;
2. the network's forward on a 5 s window in fp32 and under bf16 autocast, each against its
   GEMM floor (the forward's FLOPs, counted by torch's FlopCounterMode, at that GEMM rate):
   a ratio of 1 means the forward runs as fast as a large matmul would;
3. what ``bf16: auto`` decides here (``generation/precision.py``'s measurement and rule);
4. the real-time factor (wall seconds per second of new audio) of every preset
   (``conf/preset/``, run as ``preset=``: the draft runs the model's restart student, or its
   fallback sampler on a model without one; each row names the plan that ran) in fp32 and
   in bf16, for 30 s of new audio after the base window
   (8 s with --quick, and the rows say so), each against today's default in fp32 —
   ``sampler=dpmpp_2m bf16=false compile=false`` — timed in the same run (ratio = time /
   that baseline's time). The generations run round-robin, ``ROUNDS`` times, every other
   round in reverse order, so a change of load on a shared machine hits every setting
   alike; each figure is the median of its rounds;
5. the RTF of one network call per window in bf16, fitted over the presets (RTF = offset +
   calls × per-call): the frontier picture's RTF axis (``benchmarks/frontier.py --rtf``).

Timings mean most on an otherwise idle machine: check ``uptime`` first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

GEMM_N = 2048
FORWARD_SECONDS = 5.0
FULL_SECONDS, QUICK_SECONDS = 30.0, 8.0  # new audio per timed generation
FULL_ROUNDS, QUICK_ROUNDS = 2, 1  # round-robin passes (the second reversed) over every setting
SR = 22050
BASELINE_SAMPLER = "dpmpp_2m"  # today's default before the presets (10 steps, fp32)
GEOMETRY = None  # generate's default windows (tests set smaller ones)
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def host_kind(device: torch.device) -> str:
    """Processor (or CUDA card), cores and the bf16-related flags /proc/cpuinfo reports."""
    from pianodiff.generation.bf16_cache import cpu_name

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), torch {torch.__version__}"
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((ln for ln in fh if ln.startswith("flags")), "").split()
    except OSError:
        flags = []
    have = [f for f in FLAGS if f in flags] or ["none of " + "/".join(FLAGS)]
    return (
        f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, "
        f"flags: {' '.join(have)}, torch {torch.__version__}"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gemm_gflops(dtype: torch.dtype, device: torch.device, repeats: int) -> float:
    """GFLOP/s of a GEMM_N² matmul in ``dtype`` (median of ``repeats`` after a warm-up)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(GEMM_N, GEMM_N, generator=gen).to(device, dtype)
    b = torch.randn(GEMM_N, GEMM_N, generator=gen).to(device, dtype)
    a @ b
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - start)
    return 2 * GEMM_N**3 / statistics.median(times) / 1e9


def _probe(net: torch.nn.Module, device: torch.device) -> tuple[torch.Tensor, dict]:
    x = torch.randn(1, round(FORWARD_SECONDS * SR), generator=torch.Generator().manual_seed(1))
    x = x.to(device)
    context = {}
    if getattr(net, "accepts_context", False):
        context = {"known": torch.zeros_like(x), "mask": torch.zeros_like(x)}
    return x, context


def forward_flops(net: torch.nn.Module, device: torch.device) -> float:
    """FLOPs of one forward on the 5 s probe (convolutions and matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    x, context = _probe(net, device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x, torch.full((1,), 25.0, device=device), **context)
    return float(counter.get_total_flops())


def forward_seconds(net: torch.nn.Module, device: torch.device, repeats: int) -> dict[bool, float]:
    """Median seconds of one forward on the 5 s probe in fp32 (key False) and under bf16
    autocast (True): a warm-up each, then ``repeats`` interleaved timings of both."""
    x, context = _probe(net, device)
    step = torch.full((1,), 25.0, device=device)

    def once(bf16: bool) -> float:
        _sync(device)
        start = time.perf_counter()
        with torch.inference_mode():
            if bf16:
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    net(x, step, **context)
            else:
                net(x, step, **context)
        _sync(device)
        return time.perf_counter() - start

    times: dict[bool, list[float]] = {False: [], True: []}
    for bf16 in times:
        once(bf16)
    for _ in range(repeats):
        for bf16 in times:
            times[bf16].append(once(bf16))
    return {bf16: statistics.median(t) for bf16, t in times.items()}


def generation_rtf(model, device, choice: dict, bf16: bool, seconds: float):
    """Wall seconds per second of new audio, and the plan that ran (name, levels): a base
    window, then ``seconds`` of extension, through the one pipeline (the Python API), seed 0.
    ``choice`` is ``{"preset": name}`` (its sampler, or its fallback on a model that cannot
    run it) or ``{"sampler": option}``."""
    from pianodiff.api import Generator

    gen = Generator(model, device, bf16=bf16)
    start = time.perf_counter()
    gen.generate(seconds, seed=0, geometry=GEOMETRY, **choice)
    wall = time.perf_counter() - start
    assert gen.last_run is not None
    plan = gen.last_run.plan
    return wall / seconds, (plan.name, plan.num_levels)


Setting = tuple[str, str, bool]  # (label, "preset" or "sampler", bf16); the label names it


def round_robin(model, device, settings: list[Setting], seconds: float, rounds: int):
    """Median RTF of every setting over ``rounds`` passes, and the plan each ran; every other
    pass runs in reverse order, so a slow spell of a shared machine is shared by all."""
    times: dict[Setting, list[float]] = {s: [] for s in settings}
    plans: dict[Setting, tuple[str, int]] = {}
    for r in range(rounds):
        for setting in settings if r % 2 == 0 else settings[::-1]:
            name, kind, bf16 = setting
            rtf, plans[setting] = generation_rtf(model, device, {kind: name}, bf16, seconds)
            times[setting].append(rtf)
            print(f"  round {r + 1}/{rounds} {setting}: RTF {rtf:.3f}", flush=True)
    return {s: statistics.median(t) for s, t in times.items()}, plans


def per_call_fit(calls: list[float], rtfs: list[float]) -> tuple[float, float]:
    """Least-squares (offset, per-call) with RTF = offset + calls × per-call. The offset (the
    work that is not network calls) cannot be negative: where load noise makes the free fit's
    offset negative, the line is fitted through the origin instead."""
    mc, mr = statistics.fmean(calls), statistics.fmean(rtfs)
    var = sum((c - mc) ** 2 for c in calls)
    slope = sum((c - mc) * (r - mr) for c, r in zip(calls, rtfs, strict=True)) / var
    if mr - slope * mc >= 0:
        return mr - slope * mc, slope
    return 0.0, sum(c * r for c, r in zip(calls, rtfs, strict=True)) / sum(c * c for c in calls)


def main(quick: bool = False) -> list[dict]:
    from pianodiff.checkpoint.export import load_export
    from pianodiff.conf import group_choices
    from pianodiff.generation.configs import generate_settings
    from pianodiff.generation.errors import GenerationError
    from pianodiff.generation.paths import resolve_checkpoint
    from pianodiff.generation.precision import measure_bf16, verdict

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        model = load_export(resolve_checkpoint(None), device)
    except GenerationError as err:
        print(f"presets: skipped, {err}")
        return []
    repeats = 3 if quick else 5
    seconds = QUICK_SECONDS if quick else FULL_SECONDS
    kind = host_kind(device)
    print(f"host: {kind}", flush=True)
    rows: list[dict] = []
    gemm32 = gemm_gflops(torch.float32, device, repeats)
    gemm16 = gemm_gflops(torch.bfloat16, device, repeats)
    rows.append(
        {
            "name": f"host [{kind}]/GEMM {GEMM_N}² bf16 vs fp32",
            "value": gemm16,
            "baseline": gemm32,
            "ratio": gemm16 / gemm32,
            "unit": "GFLOP/s (ratio = bf16/fp32)",
        }
    )
    flops = forward_flops(model.net, device)
    forward = forward_seconds(model.net, device, repeats)
    for bf16, rate in ((False, gemm32), (True, gemm16)):
        name = "bf16 autocast" if bf16 else "fp32"
        secs = forward[bf16]
        floor = flops / (rate * 1e9)
        rows.append(
            {
                "name": f"forward {FORWARD_SECONDS:g} s ({flops / 1e9:.1f} GFLOP), {name}: "
                "against its GEMM floor",
                "value": secs,
                "baseline": floor,
                "ratio": secs / floor,
                "unit": "s (ratio = forward / floor; 1 = GEMM speed)",
            }
        )
    mid = 0.5 * (model.schedule.num_steps - 1)
    m = measure_bf16(model.net, device, mid)
    use, reason = verdict(m)
    rows.append(
        {
            "name": f"bf16 auto decides: {'bf16' if use else 'fp32'} ({reason})",
            "value": m.bf16_s,
            "baseline": m.fp32_s,
            "ratio": m.speedup,
            "unit": "s per forward (ratio = speed-up)",
            "rel_error": m.rel_error,
        }
    )
    for bf16 in (False, True):  # warm-up of both paths (and of a restart student's)
        for preset in group_choices("preset"):
            generation_rtf(model, device, {"preset": preset}, bf16, min(1.0, seconds))
    baseline: Setting = (BASELINE_SAMPLER, "sampler", False)
    settings = [baseline]
    for preset in group_choices("preset"):
        settings += [(preset, "preset", False), (preset, "preset", True)]
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    harmony = float(generate_settings().harmony.strength)
    rtf, plans = round_robin(model, device, settings, seconds, rounds)
    base = rtf[baseline]
    label = f"{seconds:g} s new{' (--quick: shorter than 30 s)' if quick else ''}"
    rows.append(
        {
            "name": f"RTF, {label}/today's default (dpmpp_2m 10 steps, fp32): the baseline, "
            f"median of {rounds} round-robin rounds; every setting with generate's other "
            f"defaults (harmony strength {harmony:g})",
            "value": base,
            "baseline": base,
            "ratio": 1.0,
            "unit": "wall s per new s (ratio = time / baseline)",
        }
    )
    for setting in settings[1:]:
        preset, _, bf16 = setting
        auto = " (what bf16: auto runs here)" if bf16 == use else ""
        rows.append(
            {
                "name": f"RTF, {label}/preset={preset} ({plans[setting][0]}), "
                f"{'bf16' if bf16 else 'fp32'}{auto}",
                "value": rtf[setting],
                "baseline": base,
                "ratio": rtf[setting] / base,
                "unit": "wall s per new s (ratio = time / baseline)",
            }
        )
        print(f"  {rows[-1]['name']}: RTF {rtf[setting]:.3f}, x{rtf[setting] / base:.2f}")
    calls = {s: float(plans[s][1]) for s in settings}
    bf16_points = [(calls[s], rtf[s]) for s in settings[1:] if s[2]]
    if len({c for c, _ in bf16_points}) > 1:
        offset, per_call = per_call_fit(*map(list, zip(*bf16_points, strict=True)))
        rows.append(
            {
                "name": f"RTF, {label}/one call per window, bf16, fitted over the presets "
                f"(RTF = {offset:.3f} + calls x per-call)",
                "value": per_call,
                "baseline": base,
                "ratio": per_call / base,
                "unit": "wall s per new s per call (ratio = per-call / baseline)",
            }
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in main(parser.parse_args().quick):
        print(f"{row['name']}: {row['value']} (baseline {row['baseline']}, x{row['ratio']})")
