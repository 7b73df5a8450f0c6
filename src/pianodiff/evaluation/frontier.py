"""The sampler frontier: every shipped sampler over a range of steps, judged on many seeds.

Each point is a ``conf/sampler`` option with overrides (``ddim`` with η = 1 and 20 steps,
say). For every point and seed the generation engine writes an unconditional clip (a base
window, then extension windows, as ``generate`` does) and the clip is judged by:

    note_frames   basic-pitch's share of frames with a sure note (``measures/notes.py``)
    hiss_db       the hiss floor (``measures/hiss.py``): more negative = cleaner background
    tonality      local spectral flatness (``measures/tonality.py``): lower = more tonal
    seam_scores   the seam statistic at each seam of the clip (``measures/natural.py``)

against its cost in network calls per window (hardware-free). Wall time is recorded too,
but it only means something on an otherwise idle machine (``benchmarks/presets.py`` times
the presets in one run against today's default). The rows land in a CSV one at a time,
so a long run that is stopped resumes where it was (``completed``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pianodiff.api import Generator
from pianodiff.checkpoint.export import LoadedModel
from pianodiff.generation.configs import build_plan, load_group_config
from pianodiff.generation.students import runs_a_student, student_folder
from pianodiff.measures.hiss import hiss_floor
from pianodiff.measures.natural import seam_scores_at
from pianodiff.measures.notes import note_measures
from pianodiff.measures.tonality import tonality

DEFAULT_STEPS = (5, 10, 20, 30, 50)
FEW_CALLS = 10  # the most steps a few-call family (spaced toward noise) is run at
# The sampler alone is judged by default: harmony guidance (on in generate by default) stays
# off, as it was for every row measured before it was on, so that rows of any date compare.
SAMPLER_ALONE_HARMONY = 0.0


@dataclass(frozen=True)
class Family:
    """A sampler and its fixed overrides, walked over a range of step counts.

    Attributes:
        label: how tables and plots name it (e.g. "ddim η=1").
        sampler: the ``conf/sampler`` option.
        params: overrides other than the step count (e.g. {"eta": 1.0}).
        steps: step counts to run; empty for a sampler whose count is fixed (ddpm, fast).
    """

    label: str
    sampler: str
    params: dict[str, Any] = field(default_factory=dict)
    steps: tuple[int, ...] = ()


@dataclass(frozen=True)
class Point:
    """One sampler setting on the frontier."""

    family: str
    sampler: str
    params: dict[str, Any]

    @property
    def label(self) -> str:
        steps = self.params.get("num_steps")
        return self.family if steps is None else f"{self.family}, {steps} steps"


def default_families(steps: Sequence[int] = DEFAULT_STEPS) -> list[Family]:
    """Every shipped sampler: ancestral DDPM, DDIM at η ∈ {0.5, 1}, DPM-Solver++(2M) and its
    SDE variant at η ∈ {0.5, 1}, over ``steps`` where the count is free, and the SDE variant
    with levels spaced toward noise and a first-order final move (``dpmpp_2m_sde6``) over
    the counts of ``steps`` up to ``FEW_CALLS``: a spacing for few calls, which at many calls
    would put two levels on one training step; and the restart walks of the model's distilled
    student (``restart4``, the draft's, and ``restart6``; ``generation/students.py``), which
    run only on a model that has one (:func:`runnable`)."""
    s = tuple(steps)
    few = tuple(n for n in s if n <= FEW_CALLS)
    return [
        Family("ddpm", "ddpm"),
        Family("fast", "fast"),
        Family("ddim η=0.5", "ddim", {"eta": 0.5}, s),
        Family("ddim η=1", "ddim", {"eta": 1.0}, s),
        Family("dpmpp_2m", "dpmpp_2m", {}, s),
        Family("dpmpp_2m_sde η=0.5", "dpmpp_2m_sde", {"eta": 0.5}, s),
        Family("dpmpp_2m_sde η=1", "dpmpp_2m_sde", {"eta": 1.0}, s),
        Family("dpmpp_2m_sde η=1 ρ=0.6 lof", "dpmpp_2m_sde6", {}, few),
        Family("restart4", "restart4"),
        Family("restart6", "restart6"),
    ]


def runnable(families: Iterable[Family], model: LoadedModel) -> list[Family]:
    """``families`` less the restart walks when ``model`` has no restart student."""
    if student_folder(model) is not None:
        return list(families)
    return [f for f in families if not _is_restart_walk(f, model)]


def _is_restart_walk(family: Family, model: LoadedModel) -> bool:
    steps = {"num_steps": min(family.steps)} if family.steps else {}
    try:
        plan = build_plan(family.sampler, model.schedule, **{**family.params, **steps})
    except Exception:  # noqa: BLE001  (a plan the schedule cannot hold: points() drops it)
        return False
    return runs_a_student(plan)


def points(families: Iterable[Family], max_steps: int | None = None) -> list[Point]:
    """The points of ``families``; step counts above ``max_steps`` (the checkpoint's T)
    are dropped, since a subsequence of T training steps has at most T levels."""
    out = []
    for fam in families:
        load_group_config("sampler", fam.sampler)  # an unknown sampler fails here, in one line
        if not fam.steps:
            out.append(Point(fam.label, fam.sampler, dict(fam.params)))
        for n in fam.steps:
            if max_steps is None or n <= max_steps:
                out.append(Point(fam.label, fam.sampler, {**fam.params, "num_steps": int(n)}))
    return out


def run_point(
    gen: Generator,
    point: Point,
    seed: int,
    seconds: float,
    harmony: float = SAMPLER_ALONE_HARMONY,
) -> dict[str, Any]:
    """One clip: an unconditional base window and ``seconds`` of extension, judged.

    ``harmony`` is the extension's harmony guidance strength (0: the sampler alone; generate's
    default to judge what a user hears).

    Returns a flat row (the CSV's columns); ``seam_scores`` is a ';'-joined string.
    """
    plan = build_plan(point.sampler, gen.model.schedule, **point.params)
    start = time.perf_counter()
    audio, sr = gen.generate(
        seconds,
        sampler=point.sampler,
        sampler_params=point.params,
        seed=seed,
        settings={"harmony.strength": harmony},
    )
    wall = time.perf_counter() - start
    long = gen.last
    assert long is not None
    windows = len(long.seams) + 1
    notes = note_measures(audio, sr)
    seams = seam_scores_at(audio, long.seams, sr)
    return {
        "point": point.label,
        "family": point.family,
        "sampler": point.sampler,
        "plan": plan.name,
        "eta": point.params.get("eta", plan.eta),
        "steps": plan.num_levels,
        "seed": seed,
        "seconds": len(audio) / sr,
        "bf16": gen.denoiser.autocast_dtype is not None,
        "harmony": gen.last_run.choices()["harmony"]["strength"] if gen.last_run else None,
        "calls_per_window": long.cost.nfe / windows,
        "note_frames": notes.note_frames,
        "notes_per_s": notes.notes_per_s,
        "hiss_db": hiss_floor(audio, sr),
        "tonality": tonality(audio, sr),
        "seam_scores": ";".join(f"{s:.4f}" for s in seams),
        "wall_s": wall,
    }


def completed(rows: Iterable[dict]) -> set[tuple[str, int, bool]]:
    """(point label, seed, bf16) of the rows already measured."""
    return {(str(r["point"]), int(r["seed"]), _truthy(r["bf16"])) for r in rows}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _floats(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def summarise(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """One line per (point, precision): seeds, calls, note frames mean (min–max), median hiss,
    mean flatness, median seam score over every seam of every seed, median wall seconds."""
    groups: dict[tuple[str, bool], list[dict]] = {}
    for r in rows:
        groups.setdefault((str(r["point"]), _truthy(r["bf16"])), []).append(r)
    out = []
    for (label, bf16), rs in groups.items():
        notes = _floats(r["note_frames"] for r in rs)
        seams = _floats(s for r in rs for s in str(r["seam_scores"]).split(";") if s)
        out.append(
            {
                "point": label,
                "family": rs[0]["family"],
                "bf16": bf16,
                "steps": int(float(rs[0]["steps"])),
                "calls_per_window": float(rs[0]["calls_per_window"]),
                "seeds": len(rs),
                "note_frames": statistics.fmean(notes) if notes else math.nan,
                "note_frames_min": min(notes, default=math.nan),
                "note_frames_max": max(notes, default=math.nan),
                "hiss_db": _median(r["hiss_db"] for r in rs),
                "tonality": _mean(r["tonality"] for r in rs),
                "seam_median": statistics.median(seams) if seams else math.nan,
                "wall_s": _median(r["wall_s"] for r in rs),
            }
        )
    out.sort(key=lambda s: (s["family"], s["calls_per_window"], s["bf16"]))
    return out


def _median(values: Iterable[Any]) -> float:
    got = _floats(values)
    return statistics.median(got) if got else math.nan


def _mean(values: Iterable[Any]) -> float:
    got = _floats(values)
    return statistics.fmean(got) if got else math.nan


def markdown(summary: Sequence[dict], title: str) -> str:
    """The summary as a markdown table."""
    lines = [
        title,
        "",
        "| sampler | precision | calls per window | seeds | note frames (min–max) | hiss floor dB "
        "| local flatness | seam median | wall s per clip |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['point']} | {'bf16' if s['bf16'] else 'fp32'} | {s['calls_per_window']:g} "
            f"| {s['seeds']} | {s['note_frames']:.2f} ({s['note_frames_min']:.2f}–"
            f"{s['note_frames_max']:.2f}) | {s['hiss_db']:.1f} | {s['tonality']:.3f} "
            f"| {s['seam_median']:.2f} | {s['wall_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"
