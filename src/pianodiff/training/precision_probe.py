"""``trainer.precision: auto`` on a CPU: bf16-mixed only where a timed training step says so.

A CPU flag does not decide. On a 2-core Xeon with AMX, bf16 autocast of this network ran at
0.6× fp32's speed (layout reorders inside oneDNN's convolutions); on AVX2-only CPUs bf16 is
emulated and 3-15× slower; on an EPYC with avx512_bf16 a training step of
experiment=piano14_ctx_profile took 0.88 CPU-s against fp32's 1.73 (1.96×), with the same
held-out loss after 499 steps (0.2521 vs 0.2517). So before the Trainer is
built, :func:`choose_training_precision` times one training step (forward and backward of
the built network on a small batch of the configured crop length) in fp32 and under bf16
autocast, and picks ``bf16-mixed`` when

- it is at least ``MIN_SPEEDUP`` faster (medians of interleaved repeats after a warm-up), and
- its loss and its gradient norm match fp32's: relative errors at most ``MAX_REL_ERROR``.
  (A fresh DiffWave's output layer starts at zero, so its loss is the same in both; the
  gradient norm still shows the rounding. Warm-started, experiment=piano14_ctx_profile
  measured loss 2e-4 and gradient norm 2e-3 apart.)

The verdict is cached per host and model config in the file ``bf16: auto`` uses
(``generation/bf16_cache.py``), so later runs pay nothing. An explicit
``trainer.precision=32-true`` or ``bf16-mixed`` is never overridden; the variable
``PIANODIFF_TRAIN_PRECISION`` (``32-true`` or ``bf16-mixed``) forces the verdict of ``auto``
without measuring.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from pianodiff.conf import ConfigError
from pianodiff.core import resolvers
from pianodiff.core.safe_writes import atomic_path
from pianodiff.generation.bf16_cache import VerdictCache, config_key, host_key
from pianodiff.generation.precision import time_both_precisions

AUTO = "auto"  # trainer.precision: measure on this host before the Trainer is built
ENV = "PIANODIFF_TRAIN_PRECISION"  # forces auto's verdict: 32-true or bf16-mixed
FP32, BF16 = "32-true", "bf16-mixed"
MIN_SPEEDUP = 1.1  # bf16 must save at least ~9 % of a step to be worth its rounding
MAX_REL_ERROR = 0.05  # relative error of the loss and of the gradient norm under bf16
REPEATS = 3  # timed steps per precision, interleaved, after one warm-up each
MAX_BATCH = 2  # crops in the probe batch (the configured batch size, up to this)
RECORD_FILE = "precision.json"  # in the run folder: the choice, its reason and figures
DATA_STD = 0.1  # RMS of the probe's stand-in audio (piano normalised to -1 dBFS)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepMeasurement:
    """One timing of a training step in both precisions (seconds per step, medians)."""

    fp32_s: float
    bf16_s: float | None
    loss_rel_error: float | None
    grad_rel_error: float | None
    failure: str | None = None  # bf16 autocast raised on this host

    @property
    def speedup(self) -> float | None:
        return self.fp32_s / self.bf16_s if self.bf16_s else None


@dataclass(frozen=True)
class PrecisionChoice:
    """The trainer's precision and why.

    Attributes:
        precision: "32-true" or "bf16-mixed", what Lightning is given.
        reason: one line, e.g. "measured: bf16 step 1.96x the speed of fp32, ...: bf16".
        source: "measured" (this run timed it), "cache" (an earlier run did) or "env".
        fp32_s, bf16_s, loss_rel_error, grad_rel_error: the measurement behind it.
    """

    precision: str
    reason: str
    source: str
    fp32_s: float | None = None
    bf16_s: float | None = None
    loss_rel_error: float | None = None
    grad_rel_error: float | None = None

    def record(self) -> dict[str, Any]:
        """The run folder's ``precision.json``: every field that is known."""
        return {"setting": AUTO, **{k: v for k, v in asdict(self).items() if v is not None}}


@dataclass(frozen=True)
class ProbeBatch:
    """What one probe step feeds the network: crops x0 (B, N), steps t (B,), noise ε (B, N),
    an optional context mask (B, N) and an optional profile (B, bins)."""

    x0: torch.Tensor
    t: torch.Tensor
    eps: torch.Tensor
    mask: torch.Tensor | None
    profile: torch.Tensor | None


def probe_batch(module: Any, crop_samples: int, batch: int, with_profile: bool) -> ProbeBatch:
    """A seeded batch of ``batch`` crops of ``crop_samples`` for ``module`` (a DiffWaveModule):
    noise of the music's RMS as audio, steps spread over the schedule, the module's own
    context masks where it trains with them."""
    gen = torch.Generator().manual_seed(0)
    x0 = DATA_STD * torch.randn(batch, crop_samples, generator=gen)
    eps = torch.randn(batch, crop_samples, generator=gen)
    steps = module.schedule.num_steps
    t = torch.linspace(0, steps - 1, batch + 2)[1:-1].round().long()
    mask = None
    if module.context_masks is not None:
        mask = module.context_masks.draw(batch, crop_samples, gen, x0.device)
    profile = None
    if with_profile and module.takes_profile:
        from pianodiff.diffusion.profile_guidance import profile_input

        bins = profile_input(module.net)[0]
        profile = torch.rand(batch, bins, generator=gen)
    return ProbeBatch(x0, t, eps, mask, profile)


def timed_step(
    module: Any, net: torch.nn.Module, data: ProbeBatch, bf16: bool
) -> tuple[float, float, float]:
    """Forward and backward of ``net`` on ``data`` with ``module``'s loss: (seconds, loss,
    gradient norm). Autocast covers the forward, as Lightning's bf16-mixed does."""
    for p in net.parameters():
        p.grad = None
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        per_item = module.diffusion_loss(net, data.x0, data.t, data.eps, data.mask, data.profile)
        loss = per_item.mean()
    loss.backward()
    seconds = time.perf_counter() - start
    grads = [p.grad.detach().float().norm() for p in net.parameters() if p.grad is not None]
    norm = float(torch.stack(grads).norm()) if grads else 0.0
    return seconds, float(loss.detach()), norm


def _rel(value: float, ref: float) -> float:
    return abs(value - ref) / max(abs(ref), 1e-12)


def measure_training_step(
    module: Any,
    crop_samples: int,
    batch: int,
    with_profile: bool = False,
    repeats: int = REPEATS,
) -> StepMeasurement:
    """Time a training step of ``module``'s network in fp32 and under bf16 autocast.

    The network is a copy of the EMA's (the same weights as the one trained, never
    compiled), so the run's own network and its gradients are left as they were. One
    warm-up per precision, whose loss and gradient norm are compared, then ``repeats``
    interleaved timed steps each, so a load change on a shared machine hits both.
    """
    net = copy.deepcopy(module.ema.net).train().requires_grad_(True)
    data = probe_batch(module, crop_samples, batch, with_profile)

    def run(bf16: bool) -> tuple[float, tuple[float, float]]:
        seconds, loss, grad_norm = timed_step(module, net, data, bf16)
        return seconds, (loss, grad_norm)

    t = time_both_precisions(run, repeats)
    if t.bf16_out is None:
        return StepMeasurement(t.fp32_s, None, None, None, failure=t.failure)
    (loss32, grad32), (loss16, grad16) = t.fp32_out, t.bf16_out
    return StepMeasurement(t.fp32_s, t.bf16_s, _rel(loss16, loss32), _rel(grad16, grad32))


def verdict(m: StepMeasurement) -> tuple[str, str]:
    """The precision and its one-line reason, from a measurement."""
    if m.failure is not None or m.bf16_s is None:
        return FP32, f"measured: bf16 autocast fails here ({m.failure}): fp32"
    speed = m.speedup or 0.0
    loss_err = m.loss_rel_error if m.loss_rel_error is not None else float("nan")
    grad_err = m.grad_rel_error if m.grad_rel_error is not None else float("nan")
    facts = (
        f"bf16 step {speed:.2f}x the speed of fp32 ({m.bf16_s:.3f} s vs {m.fp32_s:.3f} s), "
        f"loss rel. error {loss_err:.1e}, grad-norm rel. error {grad_err:.1e}"
    )
    if not max(loss_err, grad_err) <= MAX_REL_ERROR:
        return FP32, f"measured: {facts} (over {MAX_REL_ERROR:g}): fp32"
    if speed < MIN_SPEEDUP:
        return FP32, f"measured: {facts} (under {MIN_SPEEDUP:g}x): fp32"
    return BF16, f"measured: {facts}: bf16"


def forced_by_env() -> str | None:
    """``PIANODIFF_TRAIN_PRECISION`` when set: 32-true or bf16-mixed (anything else is one
    clear line)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if value not in (FP32, BF16):
        raise ConfigError(f"{ENV}={value!r} is not a precision; set it to {FP32} or {BF16}")
    return value


Measure = Callable[..., StepMeasurement]


def choose_training_precision(
    module: Any,
    crop_samples: int,
    batch: int,
    model_config: dict[str, Any],
    with_profile: bool = False,
    cache: VerdictCache | None = None,
    measure: Measure | None = None,
) -> PrecisionChoice:
    """``trainer.precision: auto`` on a CPU: from ``PIANODIFF_TRAIN_PRECISION``, else the
    cached verdict of this host and config, else measured now (``measure``) and cached.

    Args:
        module: the built DiffWaveModule (its network, schedule, loss and context masks).
        crop_samples: the training crop length N; batch: crops per step (capped at
            ``MAX_BATCH``).
        model_config: the resolved model config, part of the cache key.
        with_profile: the data hands the network pitch profiles.
        cache: where verdicts live (default: the user's cache folder).
        measure: the timing (default: :func:`measure_training_step`).
    """
    env = forced_by_env()
    if env is not None:
        return PrecisionChoice(env, f"{ENV}={env}", "env")
    batch = max(1, min(int(batch), MAX_BATCH))
    cache = cache if cache is not None else VerdictCache()
    host = host_key(torch.device("cpu"))
    probe = {
        "model": model_config,
        "crop_samples": int(crop_samples),
        "batch": batch,
        "context": module.context_masks is not None,
        "profile": bool(with_profile and module.takes_profile),
        "loss": module.loss_name,
    }
    key = config_key("training step", probe)
    known = cache.get(host, key)
    if known is not None and known.get("precision") in (FP32, BF16):
        fields = ("fp32_s", "bf16_s", "loss_rel_error", "grad_rel_error")
        figures = {k: known[k] for k in fields if isinstance(known.get(k), int | float)}
        return PrecisionChoice(known["precision"], str(known.get("reason", "")), "cache", **figures)
    measure = measure if measure is not None else measure_training_step
    m = measure(module, int(crop_samples), batch, with_profile=bool(probe["profile"]))
    precision, reason = verdict(m)
    choice = PrecisionChoice(
        precision, reason, "measured", m.fp32_s, m.bf16_s, m.loss_rel_error, m.grad_rel_error
    )
    record = {k: v for k, v in asdict(choice).items() if k != "source"}
    record["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with contextlib.suppress(OSError):  # a read-only home still trains, and re-measures
        cache.put(host, key, record)
    return choice


def settle_trainer_precision(
    cfg: Any, module: Any, datamodule: Any, model_config: dict[str, Any], run_dir: Path
) -> PrecisionChoice | None:
    """Replace ``cfg.trainer.precision: auto`` by a precision Lightning takes, before the
    Trainer is built; anything else (an explicit choice, a GPU's) is left as it is.

    On a CPU the choice comes from :func:`choose_training_precision`; it is logged in one
    INFO line and written to ``run_dir/precision.json``. A GPU accelerator takes the GPU
    rule of ``${pd.precision:gpu}``. Returns the CPU choice, or None where none was made.
    """
    if str(cfg.trainer.get("precision")) != AUTO:
        return None
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        cfg.trainer.precision = resolvers.precision("gpu")
        return None
    if accelerator == "mps":
        cfg.trainer.precision = FP32
        return None
    with_profile = getattr(datamodule, "profile", None) is not None
    choice = choose_training_precision(
        module,
        datamodule.segment_samples,
        datamodule.batch_size,
        model_config,
        with_profile=with_profile,
    )
    cfg.trainer.precision = choice.precision
    devices = cfg.trainer.get("devices", 1)
    if isinstance(devices, int) and devices > 1:
        os.environ[ENV] = choice.precision  # the processes Lightning starts take the same
    if rank_zero_only.rank == 0:
        log.info(
            "trainer precision %s (auto, %s): %s", choice.precision, choice.source, choice.reason
        )
        with contextlib.suppress(OSError), atomic_path(Path(run_dir) / RECORD_FILE) as tmp:
            tmp.write_text(json.dumps(choice.record(), indent=1, sort_keys=True) + "\n")
    return choice
