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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

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
    return rows + bf16_rows(repeats)


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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(*json.loads(args.worker))))
    else:
        for row in main(args.quick):
            err = row.get("rel_error")
            extra = f"  rel.err {err:.2e}" if err is not None else ""
            print(f"{row['name']:60s} {row['value']:8.3f}  x{row['ratio']:5.2f}{extra}")
