"""Training throughput (audio-seconds per second) of pianodiff.train vs a hand-written loop.

    python -m benchmarks.train_throughput [--quick]

For the ``small`` and ``base`` DiffWave sizes on the CPU, in fp32 and bf16-mixed, it runs
the real Lightning path (``DiffWaveModule`` + ``AudioDataModule`` + ``Trainer``, as
``python -m pianodiff.train`` builds them) and a minimal PyTorch loop doing the same work
on the same network: the same crops, random t, q_sample, L1 loss, backward, gradient
clipping, Adam step and EMA update. The ratio Lightning / hand loop is the framework's
overhead (target: ≥ 0.95). Step times are medians (robust on a shared machine).
Run with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000`` as ``make bench`` does.
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import statistics
import tempfile
import time

import lightning as L
import torch
from hydra.utils import instantiate

from pianodiff.data.datamodule import SyntheticDataModule
from pianodiff.diffusion.process import q_sample
from pianodiff.diffusion.schedule import linear_schedule
from pianodiff.nets import DiffWave
from pianodiff.training.ema import EMA
from pianodiff.training.lit_module import DiffWaveModule
from pianodiff.training.run import compose_train_config

SIZES = ("small", "base")  # conf/model/<size>.yaml; "tiny" measures the fixed overhead
PRECISIONS = ("32-true", "bf16-mixed")


def _net(size: str) -> DiffWave:
    torch.manual_seed(0)
    return instantiate(compose_train_config([f"model={size}"]).model)


def _data(segment_seconds: float, batch_size: int, batches: int) -> SyntheticDataModule:
    dm = SyntheticDataModule(
        num_clips=4,
        clip_seconds=max(2.0, 2 * segment_seconds),
        segment_seconds=segment_seconds,
        batch_size=batch_size,
        batches_per_epoch=batches,
    )
    dm.setup("fit")
    return dm


class _StepClock(L.Callback):
    """Intervals between consecutive batch starts: data, hooks, logging and the step itself."""

    def __init__(self):
        self.starts: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, *args) -> None:
        self.starts.append(time.perf_counter())


def lightning_step_times(size, precision, seconds, batch, steps) -> list[float]:
    dm = _data(seconds, batch, steps)
    module = DiffWaveModule(
        _net(size), linear_schedule(200), functools.partial(torch.optim.Adam, lr=2e-4)
    )
    clock = _StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            precision=precision,
            max_steps=steps,
            limit_val_batches=0,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            logger=L.pytorch.loggers.CSVLogger(tmp),
            log_every_n_steps=25,
            gradient_clip_val=1.0,
            use_distributed_sampler=False,
            callbacks=[clock],
            default_root_dir=tmp,
        )
        trainer.fit(module, datamodule=dm)
    return [b - a for a, b in zip(clock.starts, clock.starts[1:])]


def hand_loop_step_times(size, precision, seconds, batch, steps) -> list[float]:
    dm = _data(seconds, batch, steps)
    net = _net(size).train()
    ema = EMA(copy.deepcopy(net), 0.999)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4)
    alpha_bar = linear_schedule(200).alpha_bar.float()
    bf16 = precision == "bf16-mixed"
    times, start = [], time.perf_counter()
    for x0 in dm.train_dataloader():
        t = torch.randint(200, (x0.shape[0],))
        eps = torch.randn_like(x0)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            eps_hat = net(q_sample(x0, alpha_bar[t].unsqueeze(-1), eps), t.float())
        loss = (eps_hat.float() - eps).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema.update(net)
        float(loss)  # the value is read each step, as Lightning's logging does
        now = time.perf_counter()
        times.append(now - start)
        start = now
    return times


def _median_and_spread(times: list[float], warmup: int) -> tuple[float, float]:
    kept = times[warmup:] or times
    med = statistics.median(kept)
    mad = statistics.median(abs(t - med) for t in kept)
    return med, mad / med / max(1, len(kept)) ** 0.5


def main(quick: bool = False) -> list[dict]:
    """Rows {name, value, baseline, ratio, unit, rel_error}; printed as they are measured."""
    torch.set_num_threads(os.cpu_count() or 1)
    seconds, batch = (0.1, 2) if quick else (0.5, 4)
    warmup, measured = (1, 3) if quick else (2, 12)
    rows = []
    for size in SIZES:
        for precision in PRECISIONS:
            steps = warmup + measured
            hand, h_err = _median_and_spread(
                hand_loop_step_times(size, precision, seconds, batch, steps), warmup
            )
            lit, l_err = _median_and_spread(
                lightning_step_times(size, precision, seconds, batch, steps), warmup
            )
            audio = seconds * batch
            row = {
                "name": f"train {size} {precision} ({batch}x{seconds}s crops)",
                "value": audio / lit,
                "baseline": audio / hand,
                "ratio": hand / lit,
                "unit": "audio-s/s (Lightning vs hand loop)",
                "rel_error": (h_err**2 + l_err**2) ** 0.5,
            }
            rows.append(row)
            print(
                f"{row['name']:<40} lightning {row['value']:.3f}  hand {row['baseline']:.3f} "
                f"audio-s/s  ratio {row['ratio']:.3f}  ({1 / lit:.2f} steps/s)",
                flush=True,
            )
    rows.append(fixed_overhead_row(40 if quick else 80))
    return rows


def fixed_overhead_row(steps: int) -> dict:
    """Per-step time of the tiny net on 2 x 0.05 s crops: here the framework's fixed cost
    (hooks, logging, checks) is most of the step, so the difference is that cost in ms."""
    warmup = 5
    hand, h_err = _median_and_spread(
        hand_loop_step_times("tiny", "32-true", 0.05, 2, steps), warmup
    )
    lit, l_err = _median_and_spread(lightning_step_times("tiny", "32-true", 0.05, 2, steps), warmup)
    row = {
        "name": "train tiny 32-true step time (fixed overhead)",
        "value": lit * 1e3,
        "baseline": hand * 1e3,
        "ratio": lit / hand,
        "unit": "ms/step (Lightning vs hand loop)",
        "rel_error": (h_err**2 + l_err**2) ** 0.5,
    }
    print(
        f"{row['name']:<40} lightning {row['value']:.1f} ms  hand {row['baseline']:.1f} ms  "
        f"overhead {row['value'] - row['baseline']:.1f} ms/step",
        flush=True,
    )
    return row


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, shorter crops")
    main(parser.parse_args().quick)
