"""The LightningModule: loss, t-buckets, EMA warm-up, LR warm-up, non-finite loss."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from pianodiff.data.datamodule import SyntheticDataModule
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.nets import DiffWave
from pianodiff.training.ema import EMA
from pianodiff.training.lit_module import DiffWaveModule, NonFiniteLossError, linear_warmup


def make_module(**kw) -> DiffWaveModule:
    torch.manual_seed(0)
    net = DiffWave(residual_layers=2, residual_channels=8, dilation_cycle=2)
    opt = functools.partial(torch.optim.Adam, lr=1e-3)
    return DiffWaveModule(net, linear_schedule(50, 1e-4, 0.05), opt, **kw)


def fit(module, tmp_path, steps=3, callbacks=()):
    dm = SyntheticDataModule(num_clips=2, clip_seconds=0.3, segment_seconds=0.05, batch_size=4)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        val_check_interval=steps,
        check_val_every_n_epoch=None,
        logger=CSVLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        log_every_n_steps=1,
        callbacks=list(callbacks),
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=dm)
    return trainer


def test_ema_warmup_decay_and_update():
    net = torch.nn.Linear(2, 2)
    ema = EMA(net, decay=0.999)
    assert ema.current_decay() == pytest.approx(1 / 10)  # n = 0: (1+0)/(10+0)
    before = ema.net.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)
    d = 0.1
    assert torch.allclose(ema.net.weight, d * before + (1 - d) * net.weight)
    assert ema.current_decay() == pytest.approx(2 / 11)
    ema.num_updates.fill_(100_000)
    assert ema.current_decay() == 0.999
    assert EMA(net, 0.9, warmup=False).current_decay() == 0.9
    assert not any(p.requires_grad for p in ema.parameters())


def test_linear_warmup_then_cosine():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_warmup(opt, warmup_steps=4, decay_steps=8, final_fraction=0.1)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[6] == pytest.approx(0.1 + 0.9 * 0.5) and lrs[9] == pytest.approx(0.1)


def test_loss_l1_and_l2():
    m1, m2 = make_module(loss="l1"), make_module(loss="l2")
    eps_hat, eps = torch.zeros(2, 8), torch.full((2, 8), -2.0)
    assert torch.equal(m1.per_item_loss(eps_hat, eps), torch.full((2,), 2.0))
    assert torch.equal(m2.per_item_loss(eps_hat, eps), torch.full((2,), 4.0))
    with pytest.raises(ValueError, match="loss"):
        make_module(loss="huber")
    with pytest.raises(ValueError, match="val_steps"):
        make_module(val_steps=[50])


def test_fit_logs_overall_bucketed_and_validation_losses(tmp_path):
    module = make_module(t_buckets=2, val_steps=[0, 49])
    trainer = fit(module, tmp_path, steps=3)
    m = trainer.callback_metrics
    # An untrained zero-output net predicts ε̂ = 0: L1 to N(0,1) noise is E|ε| = √(2/π).
    assert abs(float(m["val/loss_t000"]) - (2 / torch.pi) ** 0.5) < 0.1
    assert {"train/loss", "val/loss", "val/loss_t049"} <= set(m)
    assert {"train/loss_t000-024", "train/loss_t025-049"} & set(m)  # per-t-bucket losses
    assert int(module.ema.num_updates) == 3
    assert not torch.equal(
        module.ema.net.output_projection.weight, module.net.output_projection.weight
    )


def record(store: dict, name: str, value, **kwargs) -> None:
    store.setdefault(name, float(value))


def test_validation_noise_is_fixed(tmp_path):
    module = make_module()
    batch = torch.randn(3, 500)
    outs = []
    for _ in range(2):
        captured = {}
        module.log = functools.partial(record, captured)
        module.validation_step(batch, 0)
        outs.append(captured)
    assert outs[0] == outs[1]


class PoisonAtStep(L.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.net.output_projection.bias.fill_(float("nan"))


def test_nan_loss_stops_naming_the_step(tmp_path):
    with pytest.raises(NonFiniteLossError, match="step 2"):
        fit(make_module(), tmp_path, steps=5, callbacks=[PoisonAtStep(2)])
