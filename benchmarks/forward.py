"""One DiffWave forward pass on a 5 s window at ``base`` size: inference path vs plain eager.

    python -m benchmarks.forward [--quick]

The baseline is the plainest possible use of the network: an eager fp32 forward with
autograd on, in a process started WITHOUT the glibc allocator settings. Each candidate
runs in its own fresh subprocess (same seed, same weights, same input), so allocator
settings, which must be set before a process starts, are measured like everything else:

    plain eager fp32         autograd on, default allocator            (baseline)
    + allocator              MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e11
    project path             what api.Generator / generate run today: weights frozen
                             (load_export), torch.no_grad, fp32, Makefile allocator settings
    + inference_mode         torch.inference_mode instead of no_grad
    mallopt, no env          the project path without the env settings, but glibc's
                             mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, 1e11)
                             called in-process before torch loads: the same allocator
                             behaviour for a plain ``python -m pianodiff.generate``
    + bf16 autocast          the network under torch.autocast(cpu, bfloat16). On a CPU
                             without native bf16 (no avx512_bf16/amx_bf16 flag) bf16 convs
                             are emulated and an order of magnitude slower, so there it is
                             timed on a short window against fp32 on the same window
    + torch.compile          inductor (compile time reported separately; full run only)

Accuracy: each candidate's output is compared with the baseline's (relative L2 error).
The weights are random with a non-zero output layer (a zero-initialised one would make
every output 0 and every error 0).

Against the GEMM floor (``floor_rows``; ``--floor-only`` runs just these): the default
network (the bundled ``piano14-ctx``, model=framed16_ctx; random weights of that shape if
it is absent) on the same 5 s window, batch 1, in fp32 and under bf16 autocast, at 1 and 2
torch threads, its residual stacks run two ways in one process, round-robin with a GEMM:

    conv path        the nn.Conv1d modules (``conv_reference = True``): the forward before
                     the stacks became matrix products
    matmul path      the default: ``nets/gemm_stack.py``
    GEMM 2048²       a square matmul in the same dtype and thread count: the host's rate

The floor of a forward is its FLOPs (the conv path's, counted by FlopCounterMode) at that
GEMM rate; "forward / floor" = 1 means the forward runs as fast as a large matmul. Each
round times every variant once (the order reversed every other round), so load from other
processes falls on all of them alike; the figures are medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pianodiff.core.allocator import tune_allocator

ALLOCATOR = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000"}
SECONDS, SR = 5.0, 22050
BASE = {"residual_layers": 30, "residual_channels": 64, "dilation_cycle": 10}
SHORT_SECONDS = 0.25  # bf16 timing window on CPUs without native bf16
CANDIDATES = [  # (name, allocator on, grad mode, autocast, compile, seconds)
    ("plain eager fp32", False, "grad", None, False, SECONDS),
    ("+ allocator", True, "grad", None, False, SECONDS),
    ("project path (no_grad, fp32, allocator)", True, "no_grad", None, False, SECONDS),
    ("+ inference_mode", True, "inference_mode", None, False, SECONDS),
    (
        "project path, mallopt() in-process instead of env",
        False,
        "no_grad+mallopt",
        None,
        False,
        SECONDS,
    ),
    ("+ inference_mode + torch.compile", True, "inference_mode", None, True, SECONDS),
]


def native_bf16() -> bool:
    """True when the CPU has bf16 instructions (avx512_bf16 or amx_bf16) or CUDA is used."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _worker(
    grad: str, autocast: str | None, compile_net: bool, repeats: int, seconds: float = SECONDS
) -> dict:
    """Time one forward configuration in this process; returns times and the output."""
    if grad.endswith("+mallopt"):
        tune_allocator()  # the entrypoints' in-process form of the env settings
        grad = grad.removesuffix("+mallopt")
    import torch

    from pianodiff.nets import DiffWave

    torch.manual_seed(0)
    net = DiffWave(**BASE).eval()
    torch.nn.init.normal_(net.output_projection.weight, std=0.1)  # non-zero output
    if grad != "grad":
        net.requires_grad_(False)
    x = torch.randn(1, int(seconds * SR), generator=torch.Generator().manual_seed(1))
    step = torch.tensor([25.0])
    compile_s = None
    if compile_net:
        start = time.perf_counter()
        net = torch.compile(net)
    context = {
        "grad": torch.enable_grad,
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
    }[grad]

    def forward():
        with context():
            if autocast == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return net(x, step).float()
            return net(x, step).float()

    out = forward()  # warm-up (and compilation)
    if compile_net:
        compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
    return {"times": times, "compile_s": compile_s, "out": out.detach().flatten().tolist()[::7]}


def measure(name, allocator, grad, autocast, compile_net, seconds, repeats) -> dict:
    """Run one candidate in a fresh subprocess with or without the allocator settings."""
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR}
    if allocator:
        env.update(ALLOCATOR)
    spec = json.dumps([grad, autocast, compile_net, repeats, seconds])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.forward", "--worker", spec],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"name": name, "error": tail[0]}
    return {"name": name, **json.loads(proc.stdout.strip().splitlines()[-1])}


def relative_error(out, ref) -> float:
    num = sum((a - b) ** 2 for a, b in zip(out, ref)) ** 0.5
    den = sum(b * b for b in ref) ** 0.5
    return num / den if den else float("nan")


def main(quick: bool = False) -> list[dict]:
    """Rows: seconds per forward of each candidate, ratio = baseline seconds / seconds."""
    repeats = 2 if quick else 5
    candidates = [c for c in CANDIDATES if not (quick and c[4])]
    results = [measure(*c, repeats) for c in candidates]
    rows = _rows(results)
    return rows + bf16_rows(repeats) + floor_rows(quick)


def bf16_rows(repeats: int) -> list[dict]:
    """bf16 autocast against fp32 (both inference_mode, allocator) on the same window."""
    native = native_bf16()
    seconds = SECONDS if native else SHORT_SECONDS
    fp32 = measure("fp32", True, "inference_mode", None, False, seconds, repeats)
    bf16 = measure("bf16", True, "inference_mode", "bf16", False, seconds, repeats)
    if "error" in fp32 or "error" in bf16:
        print(f"forward: bf16 comparison failed: {fp32.get('error') or bf16.get('error')}")
        return []
    fp32_s, bf16_s = statistics.median(fp32["times"]), statistics.median(bf16["times"])
    where = "native bf16" if native else "CPU WITHOUT native bf16"
    return [
        {
            "name": f"forward/base {seconds:g} s/bf16 autocast vs fp32 inference_mode ({where})",
            "value": bf16_s,
            "baseline": fp32_s,
            "ratio": fp32_s / bf16_s,
            "unit": "s per forward (ratio = speed-up)",
            "rel_error": relative_error(bf16["out"], fp32["out"]),
        }
    ]


def _rows(results: list[dict]) -> list[dict]:
    base = results[0]
    if "error" in base:
        raise RuntimeError(f"baseline forward failed: {base['error']}")
    base_s = statistics.median(base["times"])
    rows: list[dict] = []
    for res in results:
        if "error" in res:
            print(f"forward: {res['name']} failed: {res['error']}", file=sys.stderr)
            continue
        seconds = statistics.median(res["times"])
        rows.append(
            {
                "name": f"forward/base 5 s/{res['name']}",
                "value": seconds,
                "baseline": base_s,
                "ratio": base_s / seconds,
                "unit": "s per forward (ratio = speed-up)",
                "rel_error": relative_error(res["out"], base["out"]),
            }
        )
        if res.get("compile_s") is not None:
            rows.append(
                {
                    "name": "forward/base 5 s/torch.compile time (first call)",
                    "value": res["compile_s"],
                    "baseline": base_s,
                    "ratio": res["compile_s"] / base_s,
                    "unit": "s (ratio = eager forwards it costs)",
                }
            )
    return rows


BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints" / "piano14-ctx"
GEMM_N = 2048
FLOOR_THREADS = (1, 2)
PATHS = ("conv", "matmul")


def _default_net():
    """The bundled default network (frozen), or random weights of its shape if absent."""
    import torch

    from pianodiff.nets import MultiRateDiffWave

    if (BUNDLED / "config.yaml").exists():
        from pianodiff.checkpoint.export import load_export

        net = load_export(BUNDLED).net.net  # inside the preconditioning wrapper
        return net.eval().requires_grad_(False), "bundled piano14-ctx"
    torch.manual_seed(0)
    net = MultiRateDiffWave(frame=16, residual_layers=20, residual_channels=128, context=True)
    torch.nn.init.normal_(net.framed.output_projection.weight, std=0.1)
    return net.eval().requires_grad_(False), "framed16_ctx, random weights"


def _floor_worker(threads: int, repeats: int, bf16: bool) -> dict:
    """Round-robin: each path in each precision, and a GEMM_N² matmul in that precision."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    net, source = _default_net()
    gen = torch.Generator().manual_seed(1)
    x = 0.1 * torch.randn(1, int(SECONDS * SR), generator=gen)
    context = {"known": 0.1 * torch.randn(x.shape, generator=gen), "mask": torch.zeros_like(x)}
    context["mask"][:, : x.shape[-1] // 5] = 1.0  # a 1 s prompt, as an extension window sees
    step = torch.tensor([25.0])
    dtypes = {"fp32": torch.float32, **({"bf16": torch.bfloat16} if bf16 else {})}
    mats = {
        name: [torch.randn(GEMM_N, GEMM_N, generator=gen).to(dt) for _ in range(2)]
        for name, dt in dtypes.items()
    }

    def forward(path: str, precision: str):
        net.conv_reference = path == "conv"
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, precision == "bf16"):
            return net(x, step, **context).float()

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        forward("conv", "fp32")
    flops = float(counter.get_total_flops())
    tasks = {(p, d): (lambda p=p, d=d: forward(p, d)) for d in dtypes for p in PATHS}
    tasks.update({("gemm", d): (lambda d=d: torch.mm(*mats[d])) for d in dtypes})
    outs = {key: fn() for key, fn in tasks.items() if key[0] != "gemm"}  # warm-up
    for fn in tasks.values():
        fn()
    times: dict = {key: [] for key in tasks}
    order = list(tasks)
    for i in range(repeats):
        for key in order if i % 2 == 0 else order[::-1]:
            times[key].append(timed(tasks[key]))
    fp32_ref = outs[("conv", "fp32")].flatten()
    return {
        "source": source,
        "flops": flops,
        "median": {f"{p}/{d}": statistics.median(t) for (p, d), t in times.items()},
        "best": {f"{p}/{d}": min(t) for (p, d), t in times.items()},
        "rel_error": {
            f"{p}/{d}": float((o.flatten() - fp32_ref).norm() / fp32_ref.norm())
            for (p, d), o in outs.items()
        },
        "rel_error_same_precision": {
            d: float((outs[("matmul", d)] - outs[("conv", d)]).norm() / outs[("conv", d)].norm())
            for d in dtypes
        },
    }


def floor_rows(quick: bool = False, threads: tuple[int, ...] | None = None) -> list[dict]:
    """The default network's forward against its GEMM floor, conv path vs matmul path."""
    if threads is None:
        threads = FLOOR_THREADS[:1] if quick else FLOOR_THREADS
    repeats = 3 if quick else 15
    rows: list[dict] = []
    for n in threads:
        spec = json.dumps([n, repeats, native_bf16()])
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.forward", "--floor-worker", spec],
            env={**os.environ, **ALLOCATOR},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            print(f"forward: floor at {n} threads failed: {tail[0]}", file=sys.stderr)
            continue
        rows += _floor_rows(n, json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def _floor_rows(threads: int, res: dict) -> list[dict]:
    """Rows from medians over rounds; ``best_ratio``: the same ratio from each variant's
    fastest round (steadier where other processes share the CPU)."""
    med, best, flops = res["median"], res["best"], res["flops"]
    head = f"forward/default net ({res['source']}) 5 s, {threads} thread(s)"
    rows = []
    for precision in ("fp32", "bf16"):
        if f"gemm/{precision}" not in med:
            continue
        gflops = 2 * GEMM_N**3 / med[f"gemm/{precision}"] / 1e9
        floor = flops / (gflops * 1e9)
        rows.append(
            {
                "name": f"{head}/GEMM {GEMM_N}² {precision}: the floor of {flops / 1e9:.1f} GFLOP",
                "value": floor,
                "baseline": floor,
                "ratio": 1.0,
                "unit": f"s ({gflops:.0f} GFLOP/s)",
            }
        )
        best_floor = flops / (2 * GEMM_N**3 / best[f"gemm/{precision}"])
        for path in PATHS:
            secs = med[f"{path}/{precision}"]
            rows.append(
                {
                    "name": f"{head}/{precision}/{path} path against its GEMM floor",
                    "value": secs,
                    "baseline": floor,
                    "ratio": secs / floor,
                    "best_ratio": best[f"{path}/{precision}"] / best_floor,
                    "unit": "s (ratio = forward / floor; 1 = GEMM speed)",
                    "rel_error": res["rel_error"][f"{path}/{precision}"],
                }
            )
        rows.append(
            {
                "name": f"{head}/{precision}/matmul path vs conv path",
                "value": med[f"matmul/{precision}"],
                "baseline": med[f"conv/{precision}"],
                "ratio": med[f"conv/{precision}"] / med[f"matmul/{precision}"],
                "best_ratio": best[f"conv/{precision}"] / best[f"matmul/{precision}"],
                "unit": "s per forward (ratio = speed-up)",
                "rel_error": res["rel_error_same_precision"][precision],
            }
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--floor-only", action="store_true", help="only the GEMM-floor rows")
    parser.add_argument("--threads", type=int, nargs="+", help="thread counts of those rows")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--floor-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(*json.loads(args.worker))))
    elif args.floor_worker:
        print(json.dumps(_floor_worker(*json.loads(args.floor_worker))))
    else:
        threads = tuple(args.threads) if args.threads else None
        rows = floor_rows(args.quick, threads) if args.floor_only else main(args.quick)
        for row in rows:
            err = row.get("rel_error")
            extra = f"  rel.err {err:.2e}" if err is not None else ""
            if row.get("best_ratio") is not None:
                extra += f"  (fastest rounds: x{row['best_ratio']:.2f})"
            print(f"{row['name']:60s} {row['value']:8.3f}  x{row['ratio']:5.2f}{extra}")
