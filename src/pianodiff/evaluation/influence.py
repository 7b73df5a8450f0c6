"""Prompt influence: does the context a continuation was given reach the new audio?

Continue two different recordings with the same seed. The reverse diffusion starts from the
same noise, so whatever differs between the two continuations came from their prompts:

- **correlation** (Pearson, on the samples) of the two continuations over ranges of time
  after the cut (default 0–0.1 s, 0.1–0.5 s, 0.5 s–end). 1.0 means the prompt never got
  there: the same audio whatever came before; unrelated audio gives ≈ 0.
- **own-prompt chroma**: is each continuation's average chroma closer (cosine) to its own
  prompt's than to the other prompt's? Reported as the share of the two continuations of a
  pair that are; over many pairs, 0.5 is chance (two identical continuations are closer to
  exactly one of the two prompts), 1.0 means every continuation keeps its own harmony.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.chroma import chroma_similarity

DEFAULT_EDGES = (0.1, 0.5)  # seconds after the cut: ranges 0–0.1, 0.1–0.5, 0.5–end


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two (T,) signals; NaN when either is constant or empty."""
    n = min(a.numel(), b.numel())
    if n < 2:
        return float("nan")
    x, y = a.reshape(-1)[:n].double(), b.reshape(-1)[:n].double()
    x, y = x - x.mean(), y - y.mean()
    denom = (x.square().sum() * y.square().sum()).sqrt()
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def range_key(lo: float, hi: float | None) -> str:
    """Column name of a range: ``corr_0-0.1s``, ``corr_0.5s-end``."""
    return f"corr_{lo:g}-{hi:g}s" if hi is not None else f"corr_{lo:g}s-end"


def ranges(edges: Sequence[float] = DEFAULT_EDGES) -> list[tuple[float, float | None]]:
    """[(0, e1), (e1, e2), ..., (e_last, None)] from increasing positive ``edges``."""
    points = [0.0, *(float(e) for e in edges)]
    if any(b <= a for a, b in zip(points, points[1:])):
        raise ValueError(f"range edges must be positive and increasing, got {list(edges)}")
    return [*zip(points, points[1:]), (points[-1], None)]


def continuation_correlations(
    new_a: torch.Tensor,
    new_b: torch.Tensor,
    edges: Sequence[float] = DEFAULT_EDGES,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, float]:
    """Correlation of two (T,) continuations (each starting at its cut) per time range.

    A range that starts past the shorter continuation is NaN.
    """
    out = {}
    for lo, hi in ranges(edges):
        start = round(lo * sample_rate)
        stop = None if hi is None else round(hi * sample_rate)
        out[range_key(lo, hi)] = correlation(new_a[start:stop], new_b[start:stop])
    return out


def own_prompt_closer(
    new_a: torch.Tensor,
    new_b: torch.Tensor,
    prompt_a: torch.Tensor,
    prompt_b: torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
) -> tuple[bool, bool]:
    """Whether each (T,) continuation's chroma is closer to its own (T,) prompt's."""

    def sim(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(chroma_similarity(x.double(), y.double(), sample_rate))

    a_closer = sim(new_a, prompt_a) > sim(new_a, prompt_b)
    b_closer = sim(new_b, prompt_b) > sim(new_b, prompt_a)
    return a_closer, b_closer


def influence_row(
    new_a: torch.Tensor,
    new_b: torch.Tensor,
    prompt_a: torch.Tensor,
    prompt_b: torch.Tensor,
    edges: Sequence[float] = DEFAULT_EDGES,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, float]:
    """Both measures of one pair: the correlations per range and ``own_prompt_closer`` as
    the share (0, 0.5 or 1) of the two continuations closer to their own prompt."""
    closer = own_prompt_closer(new_a, new_b, prompt_a, prompt_b, sample_rate)
    return {
        **continuation_correlations(new_a, new_b, edges, sample_rate),
        "own_prompt_closer": sum(closer) / 2.0,
    }
