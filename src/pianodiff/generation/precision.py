"""``bf16: auto``: run the network under bf16 autocast only where a measurement says so.

A CPU flag does not decide. On one 2-core Xeon with AMX, bf16 GEMM ran 3.9× fp32, yet the
net's autocast forward ran at 0.6× fp32 speed: two thirds of it went to layout reorders
inside the convolutions. On an EPYC with avx512_bf16 it ran 1.7× faster. So on first use
the loaded net runs a short forward in both precisions on the generation window, and bf16
is chosen when

- it is at least ``MIN_SPEEDUP`` faster (median of interleaved repeats after a warm-up), and
- its ε̂ matches fp32's closely: relative L2 error at most ``MAX_REL_ERROR`` on the probe.
  The measured bf16 error of the bundled model is ~1e-2, which left its transcribed notes
  unchanged on the frontier's seeds (docs/generation.md).

The verdict is cached per host and model (``generation/bf16_cache.py``), so later runs pay
nothing, and the choice and its reason go into the sidecar (:meth:`Bf16Choice.record`).
``bf16: true`` / ``false`` force the choice and measure nothing.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.generation.bf16_cache import VerdictCache, host_key, model_key
from pianodiff.generation.errors import GenerationError

MIN_SPEEDUP = 1.1  # bf16 must save at least ~9 % of a forward to be worth its error
MAX_REL_ERROR = 0.05  # relative L2 error of ε̂ under bf16 against fp32
PROBE_SECONDS = 5.0  # the generation window: the length every call of a run sees
REPEATS = 3  # timed forwards per precision, interleaved, after one warm-up each
HOPELESS = 4.0  # a bf16 warm-up this many times fp32's ends the measurement early


@dataclass(frozen=True)
class Bf16Measurement:
    """What one timing of both precisions found (seconds per forward, medians)."""

    fp32_s: float
    bf16_s: float | None
    rel_error: float | None
    failure: str | None = None  # bf16 autocast raised on this device

    @property
    def speedup(self) -> float | None:
        return self.fp32_s / self.bf16_s if self.bf16_s else None


@dataclass(frozen=True)
class Bf16Choice:
    """Whether the network runs under bf16 autocast, and why.

    Attributes:
        use: run under bf16 autocast.
        setting: what was asked: "auto", "true" or "false".
        reason: one line, e.g. "measured: bf16 1.62x faster, eps rel. error 9.8e-03".
        source: "forced", "measured" (this run timed it) or "cache" (an earlier run did).
        fp32_s, bf16_s, rel_error: the measurement behind an auto verdict.
    """

    use: bool
    setting: str
    reason: str
    source: str
    fp32_s: float | None = None
    bf16_s: float | None = None
    rel_error: float | None = None

    def record(self) -> dict[str, Any]:
        """The sidecar's fields: ``bf16`` and ``bf16_choice`` (setting, reason, source, …)."""
        info = {k: v for k, v in asdict(self).items() if k != "use" and v is not None}
        return {"bf16": self.use, "bf16_choice": info}


def parse_setting(value: Any) -> str:
    """``bf16`` as "auto", "true" or "false": a boolean, or one of those three words; anything
    else ("yes", 1) is one clear line, as for every on/off setting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value in ("auto", "true", "false"):
        return value
    raise GenerationError(f"bf16 must be auto, true or false, got {value!r}")


def _forward(net: torch.nn.Module, x: torch.Tensor, step: torch.Tensor, bf16: bool, context):
    with torch.inference_mode():
        if bf16:
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                return net(x, step, **context).float()
        return net(x, step, **context).float()


def _timed(net, x, step, bf16: bool, context) -> tuple[float, torch.Tensor]:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    start = time.perf_counter()
    out = _forward(net, x, step, bf16, context)
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return time.perf_counter() - start, out


T = TypeVar("T")


@dataclass(frozen=True)
class PairedTiming(Generic[T]):
    """Seconds per run in fp32 and under bf16 (medians, or the warm-ups when bf16 failed or
    was hopeless), and the warm-ups' outputs for the accuracy check."""

    fp32_s: float
    bf16_s: float | None
    fp32_out: T
    bf16_out: T | None
    failure: str | None = None  # bf16 autocast raised: its first line


def time_both_precisions(run: Callable[[bool], tuple[float, T]], repeats: int) -> PairedTiming[T]:
    """Time ``run(bf16)`` -> (seconds, output) in both precisions.

    One warm-up each (outputs kept); then, unless bf16 raised or its warm-up took more than
    ``HOPELESS`` times fp32's (emulated bf16), ``repeats`` interleaved timings each, so a
    load change on a shared machine hits both.
    """
    warm32, out32 = run(False)
    try:
        warm16, out16 = run(True)
    except (RuntimeError, TypeError, NotImplementedError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return PairedTiming(warm32, None, out32, None, failure=first[:200])
    if warm16 > HOPELESS * warm32:
        return PairedTiming(warm32, warm16, out32, out16)
    t32, t16 = [], []
    for _ in range(repeats):
        t32.append(run(False)[0])
        t16.append(run(True)[0])
    return PairedTiming(statistics.median(t32), statistics.median(t16), out32, out16)


def measure_bf16(
    net: torch.nn.Module,
    device: torch.device,
    net_step: float,
    samples: int = round(PROBE_SECONDS * SAMPLE_RATE),
    repeats: int = REPEATS,
) -> Bf16Measurement:
    """Time ``net`` on a (1, ``samples``) probe in fp32 and under bf16 autocast.

    The probe is x_t at network step ``net_step`` (noise-like input, an empty context for a
    context-conditioned net: a base window). One warm-up per precision, then ``repeats``
    interleaved timed forwards each, so a load change on a shared machine hits both.
    """
    gen = torch.Generator().manual_seed(0)
    x = (0.5 * torch.randn(1, samples, generator=gen)).to(device)
    step = torch.full((1,), float(net_step), device=device)
    context = {}
    if getattr(net, "accepts_context", False):
        context = {"known": torch.zeros_like(x), "mask": torch.zeros_like(x)}
    t = time_both_precisions(lambda bf16: _timed(net, x, step, bf16, context), repeats)
    if t.bf16_out is None:
        return Bf16Measurement(t.fp32_s, None, None, failure=t.failure)
    ref = t.fp32_out
    rel = float((t.bf16_out - ref).norm() / ref.norm().clamp_min(1e-12))
    return Bf16Measurement(t.fp32_s, t.bf16_s, rel)


def verdict(m: Bf16Measurement) -> tuple[bool, str]:
    """bf16 or not, and the one-line reason, from a measurement."""
    if m.failure is not None or m.bf16_s is None:
        return False, f"measured: bf16 autocast fails here ({m.failure})"
    speed = m.speedup or 0.0
    error = m.rel_error if m.rel_error is not None else float("nan")
    facts = f"bf16 {speed:.2f}x the speed of fp32, eps rel. error {error:.1e}"
    if not error <= MAX_REL_ERROR:
        return False, f"measured: {facts} (over {MAX_REL_ERROR:g}): fp32"
    if speed < MIN_SPEEDUP:
        return False, f"measured: {facts} (under {MIN_SPEEDUP:g}x): fp32"
    return True, f"measured: {facts}: bf16"


Measure = Callable[[torch.nn.Module, torch.device, float], Bf16Measurement]


def choose_bf16(
    setting: Any,
    net: torch.nn.Module,
    device: torch.device,
    net_step: float,
    cache: VerdictCache | None = None,
    measure: Measure = measure_bf16,
) -> Bf16Choice:
    """Decide bf16 for ``net`` on ``device``: forced by ``setting`` true/false, else from the
    cache of this host and model, else measured now (``measure``) and cached.

    Args:
        net_step: the network step input of the probe (mid-schedule).
        cache: where verdicts live (default: the user's cache folder).
    """
    mode = parse_setting(setting)
    if mode != "auto":
        return Bf16Choice(mode == "true", mode, f"bf16={mode} asked", "forced")
    cache = cache if cache is not None else VerdictCache()
    host, model = host_key(device), model_key(net)
    known = cache.get(host, model)
    if known is not None and isinstance(known.get("use"), bool):
        return Bf16Choice(
            known["use"],
            "auto",
            str(known.get("reason", "")),
            "cache",
            known.get("fp32_s"),
            known.get("bf16_s"),
            known.get("rel_error"),
        )
    m = measure(net, device, net_step)
    use, reason = verdict(m)
    choice = Bf16Choice(use, "auto", reason, "measured", m.fp32_s, m.bf16_s, m.rel_error)
    record = {"use": use, "reason": reason, "fp32_s": m.fp32_s, "bf16_s": m.bf16_s}
    record["rel_error"] = m.rel_error
    record["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with contextlib.suppress(OSError):  # a read-only home still generates, and re-measures
        cache.put(host, model, record)
    return choice
