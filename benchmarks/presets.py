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
   (``conf/preset/``) in fp32 and in bf16, for 30 s of new audio after the base window
   (8 s with --quick), each against today's default in fp32 — ``sampler=dpmpp_2m bf16=false
   compile=false`` — timed in the same run (ratio = time / that baseline's time).

Timings mean something only on an otherwise idle machine: check ``uptime`` first.
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


def forward_seconds(net: torch.nn.Module, device: torch.device, bf16: bool, repeats: int) -> float:
    """Median seconds of one forward on the 5 s probe, after a warm-up."""
    x, context = _probe(net, device)
    step = torch.full((1,), 25.0, device=device)

    def once() -> float:
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

    once()
    return statistics.median(once() for _ in range(repeats))


def generation_rtf(model, device, sampler: str, bf16: bool, seconds: float) -> float:
    """Wall seconds per second of new audio: a base window, then ``seconds`` of extension,
    through the one pipeline (the Python API), seed 0."""
    from pianodiff.api import Generator

    gen = Generator(model, device, bf16=bf16)
    start = time.perf_counter()
    gen.generate(seconds, sampler=sampler, seed=0, geometry=GEOMETRY)
    return (time.perf_counter() - start) / seconds


def main(quick: bool = False) -> list[dict]:
    from pianodiff.checkpoint.export import load_export
    from pianodiff.conf import group_choices
    from pianodiff.generation.errors import GenerationError
    from pianodiff.generation.paths import resolve_checkpoint
    from pianodiff.generation.precision import measure_bf16, verdict
    from pianodiff.generation.presets import resolve_preset

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
    for bf16, rate in ((False, gemm32), (True, gemm16)):
        name = "bf16 autocast" if bf16 else "fp32"
        secs = forward_seconds(model.net, device, bf16, repeats)
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
    for bf16 in (False, True):  # warm-up of both paths
        generation_rtf(model, device, BASELINE_SAMPLER, bf16, min(1.0, seconds))
    base = generation_rtf(model, device, BASELINE_SAMPLER, False, seconds)
    label = f"{seconds:g} s new"
    rows.append(
        {
            "name": f"RTF, {label}/today's default (dpmpp_2m 10 steps, fp32): the baseline",
            "value": base,
            "baseline": base,
            "ratio": 1.0,
            "unit": "wall s per new s (ratio = time / baseline)",
        }
    )
    for preset in group_choices("preset"):
        sampler = resolve_preset(preset).sampler
        for bf16 in (False, True):
            rtf = generation_rtf(model, device, sampler, bf16, seconds)
            rows.append(
                {
                    "name": f"RTF, {label}/preset={preset} ({sampler}), "
                    f"{'bf16' if bf16 else 'fp32'}",
                    "value": rtf,
                    "baseline": base,
                    "ratio": rtf / base,
                    "unit": "wall s per new s (ratio = time / baseline)",
                }
            )
            print(f"  {rows[-1]['name']}: RTF {rtf:.3f}, x{rtf / base:.2f}", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in main(parser.parse_args().quick):
        print(f"{row['name']}: {row['value']} (baseline {row['baseline']}, x{row['ratio']})")
