"""Per-step weights of the training loss (module.loss_weight)."""

from __future__ import annotations

import pytest
import torch

from pianodiff.diffusion.schedule import log_snr_schedule
from pianodiff.training.lit_module import loss_weights
from pianodiff.training.run import compose_train_config, train


def test_none_is_uniform_and_min_snr_caps_the_clean_steps():
    alpha_bar = log_snr_schedule(num_steps=50, snr_max_db=50.0, snr_min_db=-10.0).alpha_bar
    assert torch.equal(loss_weights(alpha_bar, "none"), torch.ones(50))
    w = loss_weights(alpha_bar, "min_snr", gamma=5.0)
    assert w.mean().item() == pytest.approx(1.0, rel=1e-5)
    snr = alpha_bar / (1 - alpha_bar)
    noisy = snr <= 5.0
    # Below γ every step keeps the same weight; above it the weight falls as γ / SNR.
    assert torch.allclose(w[noisy], w[noisy][0].expand(int(noisy.sum())))
    ratio = (w[~noisy] / w[noisy][0]).double()
    assert torch.allclose(ratio, (5.0 / snr[~noisy]).double(), rtol=1e-4)
    assert bool((w[1:] >= w[:-1]).all())  # noisier steps never weigh less


def test_unknown_weighting_is_rejected():
    with pytest.raises(ValueError, match="loss_weight must be one of"):
        loss_weights(torch.tensor([0.9, 0.5]), "snr")


def test_weighted_training_logs_the_objective_beside_the_plain_loss(tmp_path, smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides(
            f"paths.run_dir={tmp_path / 'run'}",
            "trainer.max_steps=2",
            "module.loss_weight=min_snr",
            "module.min_snr_gamma=2.0",
        )
    )
    metrics = train(cfg)["metrics"]
    assert {"train/loss", "train/objective"} <= set(metrics)
    assert metrics["train/objective"] != metrics["train/loss"]
