"""Evaluation cases cut from held-out real audio: centred gaps and continuations.

Positions are spread evenly over each file (no randomness), so two checkpoints or two
extenders are always judged on exactly the same excerpts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import AUDIO_EXTENSIONS, read_audio
from pianodiff.evaluation.models import EvaluationError


@dataclass
class GapCase:
    """A centred gap: ``excerpt`` (T,) real audio with [gap_start, gap_stop) hidden."""

    file: str
    offset: int
    excerpt: torch.Tensor
    gap_start: int
    gap_stop: int
    gap_ms: int


@dataclass
class ExtensionCase:
    """A continuation: ``ground`` (real audio up to the cut) and what really followed it."""

    file: str
    cut: int
    ground: torch.Tensor
    truth: torch.Tensor


def load_held_out(
    folder: str | Path, max_files: int | None = None, sample_rate: int = SAMPLE_RATE
) -> list[tuple[str, torch.Tensor]]:
    """(name, (T,) audio) of the audio files in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(
            f"held-out audio folder {folder} not found; run `make data` or pass "
            "data_dir=<folder of audio files>"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise EvaluationError(
            f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {folder}; run `make data` "
            "or pass data_dir=<folder of audio files>"
        )
    if max_files:
        files = files[: int(max_files)]
    return [(p.name, read_audio(p, sample_rate)) for p in files]


def spread_positions(low: int, high: int, count: int) -> list[int]:
    """``count`` positions spread evenly over [low, high] (centres of equal parts)."""
    if high < low or count < 1:
        return []
    return [low + int((k + 0.5) * (high - low) / count) for k in range(count)]


def gap_cases(
    audio: list[tuple[str, torch.Tensor]],
    gaps_ms: list[int],
    case_seconds: float,
    cases_per_file: int,
    sample_rate: int = SAMPLE_RATE,
) -> list[GapCase]:
    """Excerpts of ``case_seconds`` with a centred gap of each length (CQT-Diff+ protocol)."""
    length = round(case_seconds * sample_rate)
    cases = []
    for name, wave in audio:
        for offset in spread_positions(0, len(wave) - length, cases_per_file):
            excerpt = wave[offset : offset + length]
            for ms in gaps_ms:
                gap = round(ms / 1000 * sample_rate)
                if gap >= length:
                    raise EvaluationError(
                        f"gap of {ms} ms does not fit in gap.case_seconds={case_seconds}; "
                        "raise gap.case_seconds"
                    )
                start = (length - gap) // 2
                cases.append(GapCase(name, offset, excerpt, start, start + gap, int(ms)))
    return cases


def extension_cases(
    audio: list[tuple[str, torch.Tensor]],
    ground_seconds: float,
    new_seconds: float,
    cases_per_file: int,
    sample_rate: int = SAMPLE_RATE,
) -> list[ExtensionCase]:
    """Cuts with ``ground_seconds`` of real audio before and ``new_seconds`` after."""
    before, after = round(ground_seconds * sample_rate), round(new_seconds * sample_rate)
    cases = []
    for name, wave in audio:
        for cut in spread_positions(before, len(wave) - after, cases_per_file):
            cases.append(
                ExtensionCase(name, cut, wave[cut - before : cut], wave[cut : cut + after])
            )
    return cases
