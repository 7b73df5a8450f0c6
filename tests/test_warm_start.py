"""init_from=: a new run starts from an earlier run's weights with a fresh optimiser."""

from __future__ import annotations

import pytest
import torch

from pianodiff.checkpoint.export import CheckpointError
from pianodiff.checkpoint.from_training import load_training_checkpoint
from pianodiff.checkpoint.warm_start import warm_start
from pianodiff.training.run import compose_train_config, train


def fit(smoke_overrides, run_dir, steps: int, *extra: str) -> dict:
    cfg = compose_train_config(
        smoke_overrides(f"paths.run_dir={run_dir}", f"trainer.max_steps={steps}", *extra)
    )
    return train(cfg)


def test_warm_start_from_a_checkpoint_restarts_step_and_optimiser(tmp_path, smoke_overrides):
    fit(smoke_overrides, tmp_path / "source", 3)
    ckpt = tmp_path / "source" / "checkpoints" / "last.ckpt"
    source = load_training_checkpoint(ckpt)["state_dict"]
    # lr 0: the optimiser leaves the loaded weights untouched, so they can be compared.
    result = fit(
        smoke_overrides, tmp_path / "warm", 1, f"init_from={ckpt}", "module.optimizer.lr=0"
    )
    module = result["module"]
    assert result["global_step"] == 1  # a resume would have started at 3
    for name, value in module.net.state_dict().items():
        assert torch.equal(value, source[f"net.{name}"]), name
    # The loaded EMA is kept as a mature average: its first update already uses the full
    # decay (a restarted warm-up would have moved it 90 % of the way to the raw weights).
    decay = module.ema.decay
    assert module.ema.current_decay() == decay and decay > 0.1
    name, value = next(iter(module.ema.net.state_dict().items()))
    expected = decay * source[f"ema.net.{name}"] + (1 - decay) * source[f"net.{name}"]
    assert torch.allclose(value, expected, atol=1e-6)


def test_warm_start_from_an_export_loads_ema_weights_into_both(tmp_path, smoke_overrides):
    fit(smoke_overrides, tmp_path / "source", 2)
    result = fit(
        smoke_overrides,
        tmp_path / "warm",
        1,
        f"init_from={tmp_path / 'source' / 'export'}",
        "module.optimizer.lr=0",
    )
    exported = result["module"].net.state_dict()
    source = load_training_checkpoint(tmp_path / "source" / "checkpoints" / "last.ckpt")
    for name, value in exported.items():
        assert torch.equal(value, source["state_dict"][f"ema.net.{name}"]), name


def test_warm_start_refuses_another_architecture(tmp_path, smoke_overrides):
    fit(smoke_overrides, tmp_path / "source", 1)
    ckpt = tmp_path / "source" / "checkpoints" / "last.ckpt"
    cfg = compose_train_config(smoke_overrides("model=small"))
    from hydra.utils import instantiate

    net = instantiate(cfg.model)
    with pytest.raises(CheckpointError, match="warm-start with the same model"):
        warm_start(net, net, ckpt, dict(cfg.model))


def test_resume_and_warm_start_together_is_an_error(tmp_path, smoke_overrides):
    fit(smoke_overrides, tmp_path / "source", 1)
    ckpt = tmp_path / "source" / "checkpoints" / "last.ckpt"
    with pytest.raises(CheckpointError, match="either ckpt_path"):
        fit(smoke_overrides, tmp_path / "both", 2, f"init_from={ckpt}", f"ckpt_path={ckpt}")


def test_skipping_the_warmup_reaches_the_full_decay_and_never_rewinds():
    from pianodiff.training.ema import EMA

    ema = EMA(torch.nn.Linear(2, 2), decay=0.999)
    assert ema.current_decay() == pytest.approx(0.1)
    ema.skip_warmup()
    assert ema.current_decay() == pytest.approx(0.999)
    n = int(ema.num_updates)
    assert (1 + (n - 1)) / (10 + (n - 1)) < 0.999  # the first such n, not a far larger one
    ema.num_updates.fill_(10**6)
    ema.skip_warmup()
    assert int(ema.num_updates) == 10**6  # a resumed count is never lowered
