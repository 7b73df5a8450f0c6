"""Probes of a model under training: held-out losses by noise level and unconditional samples.

Shared by ``studies/training_report.py`` (one run), ``studies/lever_study.py`` (a study of
runs) and ``studies/solver_study.py``, so that every figure of the studies comes from the
same crops, the same noise draws, the same sampler and the same sample measures
(``pianodiff.measures.listening.sample_measures``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import read_audio
from pianodiff.data.dataset import find_audio_files
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.sampler import sample
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.evaluation.reference_loss import held_out_draws, reference_losses
from pianodiff.inpaint.replacement import Replacement


def held_out_crops(folder: str | Path, count: int = 32, seconds: float = 0.5) -> torch.Tensor:
    """(≤ count, seconds · SR) crops of the files in ``folder``: one every 1/8 of each file's
    length while a whole crop fits (8 per file for files much longer than a crop)."""
    n = int(seconds * SAMPLE_RATE)
    clips = [read_audio(f) for f in find_audio_files(folder)]
    crops = [c[i : i + n] for c in clips if len(c) > n for i in range(0, len(c) - n, len(c) // 8)]
    if not crops:
        raise ValueError(f"{folder} has no audio longer than {seconds} s")
    return torch.stack(crops[:count])


@torch.no_grad()
def losses_by_noise_level(
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    spectrum: torch.Tensor,
    net: torch.nn.Module,
    ranges: int = 4,
    repeats: int = 4,
    seed: int = 0,
) -> dict[str, float]:
    """Model and Wiener L1 on ε over all steps and per equal range of t.

    The draws are those of ``reference_loss.held_out_losses`` (crops repeated ``repeats``
    times, t spread evenly over 0..T−1, seeded noise), so two models see identical inputs.

    Args:
        x0: held-out crops (B, N); spectrum: the training set's PSD (F,).
    Returns:
        {"model", "wiener", "ratio"} overall and with suffix "_t<lo>-<hi>" per range;
        ratio = model / wiener (below 1: beyond the average spectrum).
    """
    batch, eps, t, x_t = held_out_draws(x0, schedule, repeats, seed)
    T = schedule.num_steps
    # In chunks of 16 crops: the whole probe at once would hold every activation together.
    eps_pred = torch.cat([net(xb, tb.to(x0.dtype)) for xb, tb in zip(x_t.split(16), t.split(16))])
    out: dict[str, float] = {}
    groups = [("", torch.ones_like(t, dtype=torch.bool))]
    for r in range(ranges):
        lo, hi = r * T // ranges, (r + 1) * T // ranges - 1
        groups.append((f"_t{lo:03d}-{hi:03d}", (t >= lo) & (t <= hi)))
    for suffix, sel in groups:
        losses = reference_losses(batch[sel], eps[sel], t[sel], schedule, spectrum, eps_pred[sel])
        out[f"model{suffix}"] = losses["model"]
        out[f"wiener{suffix}"] = losses["wiener"]
        out[f"ratio{suffix}"] = losses["model"] / losses["wiener"]
    return out


@torch.no_grad()
def unconditional(net: torch.nn.Module, plan, seconds: float, seed: int) -> torch.Tensor:
    """(N,) audio sampled from noise with an empty mask (the base window of generation)."""
    mask = torch.zeros(1, int(seconds * SAMPLE_RATE))
    gen = torch.Generator().manual_seed(seed)
    ctx = InpaintContext(known=torch.zeros_like(mask), mask=mask, plan=plan, generator=gen)
    return sample(Denoiser(net), Replacement(), ctx)[0]


def mean_measures(rows: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of ``sample_measures`` rows (keys present in every row)."""
    keys = [k for k in rows[0] if all(k in r for r in rows)] if rows else []
    return {k: sum(r[k] for r in rows) / len(rows) for k in keys}
