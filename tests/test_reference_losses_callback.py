"""The training run logs its held-out loss beside the predict-zero and Wiener references."""

from __future__ import annotations

import csv

from pianodiff.training.run import compose_train_config, train


def test_validation_logs_reference_losses_on_the_same_draws(smoke_overrides):
    cfg = compose_train_config(
        smoke_overrides("trainer.max_steps=2", "trainer.val_check_interval=2", "logger=csv")
    )
    run = train(cfg)["run_dir"]
    rows = []
    for path in run.rglob("metrics.csv"):
        with path.open() as f:
            rows += [r for r in csv.DictReader(f) if r.get("val/ref_zero")]
    assert rows, "no reference losses were logged"
    last = rows[-1]
    zero, wiener, model = (float(last[f"val/ref_{k}"]) for k in ("zero", "wiener", "model"))
    assert 0.7 < zero < 0.9  # E|ε| = √(2/π) ≈ 0.80 on a few hundred thousand draws
    assert wiener < zero  # the average spectrum alone already beats predicting zero
    assert model > 0
