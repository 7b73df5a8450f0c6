"""trainer.precision: auto (training/precision_probe.py): on a CPU a timed training step
decides, the verdict is cached per host and model config, an explicit precision always
wins, and no CPU flag is read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from pianodiff.conf import ConfigError
from pianodiff.core import resolvers
from pianodiff.generation.bf16_cache import VerdictCache
from pianodiff.training import precision_probe
from pianodiff.training.precision_probe import (
    BF16,
    ENV,
    FP32,
    RECORD_FILE,
    StepMeasurement,
    choose_training_precision,
    measure_training_step,
    verdict,
)
from pianodiff.training.run import compose_train_config, train


def never(*_args, **_kwargs):
    raise AssertionError("nothing should be measured")


def fixed(m: StepMeasurement):
    """A measurement that returns ``m`` and counts its calls."""
    calls = []

    def measure(module, crop_samples, batch, with_profile=False):
        calls.append((crop_samples, batch, with_profile))
        return m

    measure.calls = calls
    return measure


def smoke_module(overrides: list[str] | None = None):
    """The smoke experiment's tiny net in its LightningModule, and the composed config."""
    cfg = compose_train_config(["experiment=smoke", *(overrides or [])])
    torch.manual_seed(0)
    net = instantiate(cfg.model)
    schedule = instantiate(cfg.diffusion)
    module = instantiate(cfg.module, _partial_=True)(net=net, schedule=schedule)
    return module, cfg


def test_the_resolver_leaves_a_cpu_to_measurement():
    cfg = compose_train_config(["trainer=cpu"])
    assert cfg.trainer.precision == "auto"  # settled by the trainer, not by the config
    if not torch.cuda.is_available():
        assert compose_train_config([]).trainer.precision == "auto"
    assert compose_train_config(["experiment=piano14_ctx"]).trainer.precision == "auto"
    forced = compose_train_config(["trainer=cpu", "trainer.precision=bf16-mixed"])
    assert forced.trainer.precision == "bf16-mixed"
    # No CPU flag decides any more: the resolver does not read /proc/cpuinfo.
    assert "cpuinfo" not in Path(resolvers.__file__).read_text()


def test_the_verdict_rules():
    fast, slow = StepMeasurement(1.0, 0.5, 1e-3, 1e-3), StepMeasurement(1.0, 0.95, 1e-3, 1e-3)
    assert verdict(fast)[0] == BF16 and "2.00x" in verdict(fast)[1]
    assert verdict(slow)[0] == FP32 and "under 1.1x" in verdict(slow)[1]
    wrong_grad = StepMeasurement(1.0, 0.5, 1e-3, 0.2)
    assert verdict(wrong_grad)[0] == FP32 and "over 0.05" in verdict(wrong_grad)[1]
    wrong_loss = StepMeasurement(1.0, 0.5, 0.1, 1e-3)
    assert verdict(wrong_loss)[0] == FP32
    failed = StepMeasurement(1.0, None, None, None, failure="no bf16 kernel")
    assert verdict(failed) == (FP32, "measured: bf16 autocast fails here (no bf16 kernel): fp32")


def test_a_real_step_is_timed_in_both_precisions():
    module, cfg = smoke_module()
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    m = measure_training_step(module, crop_samples=2205, batch=2, repeats=1)
    assert m.failure is None and m.fp32_s > 0 and m.bf16_s is not None and m.bf16_s > 0
    # bf16 rounding moves the loss and gradient norm of the tiny net by far under 5 %.
    assert m.loss_rel_error is not None and m.loss_rel_error < 0.05
    assert m.grad_rel_error is not None and 0 < m.grad_rel_error < 0.05
    # The probe trains a copy: the run's own network and its gradients are untouched.
    after = module.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in module.net.parameters())


def test_a_measured_verdict_is_cached_per_host_and_config(tmp_path):
    module, cfg = smoke_module()
    cache = VerdictCache(tmp_path)
    model = {"name": "tiny"}
    measure = fixed(StepMeasurement(0.02, 0.01, 1e-3, 2e-3))
    first = choose_training_precision(module, 2205, 4, model, cache=cache, measure=measure)
    assert (first.precision, first.source) == (BF16, "measured")
    assert measure.calls == [(2205, 2, False)]  # the batch is capped at two crops
    (record,) = json.loads((tmp_path / "bf16_verdicts.json").read_text()).values()
    assert record["precision"] == BF16 and record["measured_at"]
    assert record["reason"] == first.reason and record["grad_rel_error"] == 2e-3
    again = choose_training_precision(module, 2205, 4, model, cache=cache, measure=never)
    assert (again.precision, again.source, again.reason) == (BF16, "cache", first.reason)
    assert again.fp32_s == 0.02 and again.bf16_s == 0.01
    # Another crop length is another probe: measured anew.
    slow = fixed(StepMeasurement(0.02, 0.019, 1e-3, 2e-3))
    other = choose_training_precision(module, 4410, 2, model, cache=cache, measure=slow)
    assert (other.precision, other.source) == (FP32, "measured") and len(slow.calls) == 1


def test_the_variable_forces_the_verdict(tmp_path, monkeypatch):
    module, _ = smoke_module()
    monkeypatch.setenv(ENV, FP32)
    choice = choose_training_precision(module, 2205, 2, {}, VerdictCache(tmp_path), never)
    assert (choice.precision, choice.source) == (FP32, "env")
    monkeypatch.setenv(ENV, "bf16")
    with pytest.raises(ConfigError, match=f"{ENV}='bf16' is not a precision; set it to"):
        choose_training_precision(module, 2205, 2, {}, VerdictCache(tmp_path), never)


@pytest.mark.parametrize("explicit", [FP32, BF16])
def test_an_explicit_precision_is_never_overridden(explicit, smoke_overrides, monkeypatch):
    other = BF16 if explicit == FP32 else FP32
    monkeypatch.setenv(ENV, other)  # would force auto's verdict, but nothing is auto
    monkeypatch.setattr(precision_probe, "measure_training_step", never)
    cfg = compose_train_config(
        smoke_overrides("trainer.max_steps=1", f"trainer.precision={explicit}")
    )
    result = train(cfg)
    assert result["trainer"].precision == explicit
    assert not (result["run_dir"] / RECORD_FILE).exists()


def test_auto_is_settled_before_the_trainer_and_recorded(smoke_overrides, monkeypatch, caplog):
    measure = fixed(StepMeasurement(0.03, 0.02, 1e-3, 4e-3))
    monkeypatch.setattr(precision_probe, "measure_training_step", measure)
    cfg = compose_train_config(smoke_overrides("trainer.max_steps=1", "trainer.precision=auto"))
    with caplog.at_level(logging.INFO, logger="pianodiff.training.precision_probe"):
        result = train(cfg)
    assert result["trainer"].precision == BF16 and result["global_step"] == 1
    assert measure.calls == [(2205, 2, False)]  # the configured 0.1 s crops, two of them
    record = json.loads((result["run_dir"] / RECORD_FILE).read_text())
    assert record["setting"] == "auto" and record["precision"] == BF16
    assert record["source"] == "measured" and record["fp32_s"] == 0.03
    (line,) = [r.getMessage() for r in caplog.records if "trainer precision" in r.getMessage()]
    assert line.startswith("trainer precision bf16-mixed (auto, measured): measured: bf16 step")
    assert "1.50x" in line and "grad-norm rel. error 4.0e-03" in line
