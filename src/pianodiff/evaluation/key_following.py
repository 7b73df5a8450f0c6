"""The key-following case of the harness: continue one passage in four keys, judge the key.

Passages are cut at the same times from the held-out pieces rendered in every key
(``evaluation/key_set.py``). Each (passage, key) prompt is continued through the API (the
generation pipeline, the very path ``generate`` takes) with the setup's extender and
sampler, the same seed for every prompt, and optionally with harmony guidance
(``inpaint/harmony.py``). Then, per passage, each continuation's transcribed pitch-class
profile is compared with the four prompts' (``measures/key_following.py``): it follows when
its own key's prompt is the closest. The passage's real continuation is judged the same way
(the ceiling). Beside the key: register (mean transcribed pitch) and density (notes/s)
against the prompt's, note frames, tonality, hiss, the seams, and the key per extension
window (does it survive the chain?).

Prompt influence, as the harness's continuation cases measure it (``evaluation/influence.py``):
every continuation starts from the same seed, so for each pair of passages from different
pieces in the same key, the correlation of the two continuations per range after the cut
(1.0 beyond 0.5 s means the prompt never got there) and whether each one's chroma is closer
to its own prompt's than to the other's.

Rows: one ``key`` row per (passage, key), one ``key_window`` row per extension window and one
``key_influence`` row per pair of passages from different pieces in the same key.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import read_audio
from pianodiff.evaluation.cases import spread_positions
from pianodiff.evaluation.influence import DEFAULT_EDGES, influence_row
from pianodiff.evaluation.models import EvaluationError
from pianodiff.evaluation.run_cases import Setup
from pianodiff.generation.engine import LongAudio
from pianodiff.generation.geometry import Geometry
from pianodiff.inpaint.harmony import Harmony
from pianodiff.measures.hiss import hiss_floor
from pianodiff.measures.key_following import Transcription, follows, transcribe
from pianodiff.measures.natural import seam_scores_at
from pianodiff.measures.tonality import tonality


@dataclass
class KeyCase:
    """One prompt of the set: ``passage`` in the key moved by ``shift`` semitones."""

    passage: str  # "<piece>@<cut seconds>"
    shift: int
    prompt: torch.Tensor  # (T,) real audio before the cut
    truth: torch.Tensor  # (T,) what really followed


def key_cases(
    files: dict[tuple[str, int], Path],
    prompt_seconds: float,
    seconds: float,
    passages_per_file: int,
    use_passages: list[int] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> list[KeyCase]:
    """Cases of every (piece, shift) file: ``passages_per_file`` cuts spread over the
    shortest key of each piece (all keys cut at the same times); ``use_passages`` keeps only
    those cut indices (None: all)."""
    before, after = round(prompt_seconds * sample_rate), round(seconds * sample_rate)
    pieces = sorted({piece for piece, _ in files})
    cases = []
    for piece in pieces:
        shifts = sorted(s for p, s in files if p == piece)
        audio = {s: read_audio(files[(piece, s)], sample_rate) for s in shifts}
        shortest = min(len(a) for a in audio.values())
        cuts = spread_positions(before, shortest - after, passages_per_file)
        for index, cut in enumerate(cuts):
            if use_passages is not None and index not in use_passages:
                continue
            name = f"{piece}@{cut / sample_rate:.1f}"
            for s in shifts:
                wave = audio[s]
                cases.append(KeyCase(name, s, wave[cut - before : cut], wave[cut : cut + after]))
    if not cases:
        raise EvaluationError(
            "no key-following passage fits the rendered pieces; lower "
            "key_following.prompt_seconds or key_following.seconds"
        )
    return cases


def continue_case(
    setup: Setup,
    case: KeyCase,
    seconds: float,
    geometry: Geometry,
    harmony: Harmony | None,
    profile: Mapping[str, Any] | None = None,
) -> LongAudio:
    """The prompt followed by ``seconds`` of new audio, with the setup's seed: the API's
    ``extend``, the very path ``generate`` takes. ``profile``: the ``pitch_profile``
    settings (``use``, ``scale``, ``source``) for a profile-conditioned model."""
    harmony = harmony or Harmony()
    settings = {f"harmony.{key}": value for key, value in harmony.record().items()}
    settings.update({f"pitch_profile.{key}": value for key, value in (profile or {}).items()})
    setup.model.extend(
        case.prompt,
        seconds,
        extender=setup.inpainter,
        sampler=setup.plan,
        seed=setup.seed,
        geometry=geometry,
        sample_rate=setup.sample_rate,
        settings=settings,
    )
    return setup.model.last


def _windows(new: torch.Tensor, seams: list[int], base: int) -> list[torch.Tensor]:
    """The new audio cut at the seams: one (T,) piece per extension window."""
    edges = [s - base for s in seams] + [len(new)]
    return [new[a:b] for a, b in zip(edges, edges[1:]) if b > a]


def run_key_following(
    setup: Setup,
    cases: list[KeyCase],
    seconds: float,
    geometry: Geometry,
    harmony: Harmony | None = None,
    on_case: Callable[[], None] | None = None,
    edges: Sequence[float] = DEFAULT_EDGES,
    profile: Mapping[str, Any] | None = None,
) -> list[dict]:
    """Continue every case and judge it; ``key``, ``key_window`` and ``key_influence`` rows
    (module docstring; ``edges``: the influence ranges in seconds after the cut).
    ``on_case`` is called after each case (a progress bar); ``profile`` as
    :func:`continue_case`."""
    sr = setup.sample_rate
    measured = []
    profile_scale = math.nan  # the guidance scale where the model heard a profile
    for case in cases:
        start = time.perf_counter()
        result = continue_case(setup, case, seconds, geometry, harmony, profile)
        wall = time.perf_counter() - start
        heard = setup.model.last_run.pitch_profile if setup.model.last_run else None
        if heard and heard.get("ran"):
            profile_scale = float(heard["scale"])
        audio = result.audio.float().cpu()
        new = audio[result.base_samples :]
        pieces = _windows(new, result.seams, result.base_samples)
        measured.append(
            {
                "case": case,
                "audio": new,
                "new": transcribe(new, sr),
                "prompt": transcribe(case.prompt, sr),
                "truth": transcribe(case.truth, sr) if len(case.truth) else None,
                "windows": [transcribe(w, sr) for w in pieces],
                "truth_windows": [
                    transcribe(w, sr)
                    for w in _windows(case.truth[: len(new)], result.seams, result.base_samples)
                ]
                if len(case.truth) >= len(new)
                else [],
                "tonality": tonality(new, sr),
                "hiss_db": hiss_floor(new, sr),
                "seam": statistics.median(seam_scores_at(audio, result.seams, sr) or [math.nan]),
                "wall_s": wall,
            }
        )
        if on_case is not None:
            on_case()
    rows = _judge(setup, measured, harmony, profile_scale)
    return rows + _influence(rows[0], measured, edges, sr) if rows else rows


def _piece(passage: str) -> str:
    return passage.rsplit("@", 1)[0]


def _influence(
    first: dict, measured: list[dict], edges: Sequence[float], sample_rate: int
) -> list[dict]:
    """One ``key_influence`` row per pair of cases from different pieces in the same key:
    same seed, different prompts (``evaluation/influence.py``)."""
    labels = {
        k: first[k]
        for k in first
        if k in ("extender", "sampler", "profile_scale") or k.startswith("harm")
    }
    rows = []
    for i, a in enumerate(measured):
        for b in measured[i + 1 :]:
            ca, cb = a["case"], b["case"]
            if ca.shift != cb.shift or _piece(ca.passage) == _piece(cb.passage):
                continue
            rows.append(
                {
                    "task": "key_influence",
                    **labels,
                    "passage": ca.passage,
                    "passage_b": cb.passage,
                    "shift": ca.shift,
                    **influence_row(
                        a["audio"], b["audio"], ca.prompt, cb.prompt, edges, sample_rate
                    ),
                }
            )
    return rows


def _prompt_profiles(measured: list[dict], passage: str) -> tuple[list[int], torch.Tensor]:
    group = [m for m in measured if m["case"].passage == passage]
    shifts = [m["case"].shift for m in group]
    return shifts, torch.stack([m["prompt"].classes for m in group])


def _judge(
    setup: Setup, measured: list[dict], harmony: Harmony | None, profile_scale: float
) -> list[dict]:
    labels = {
        **setup.labels(),
        "harmony_strength": harmony.strength if harmony else 0.0,
        "harmony_cut": harmony.cut if harmony else float("nan"),
        "harmony_source": harmony.source if harmony else "",
        "profile_scale": profile_scale,  # NaN: the model heard no pitch profile
    }
    rows = []
    for m in measured:
        case: KeyCase = m["case"]
        shifts, prompts = _prompt_profiles(measured, case.passage)
        own = shifts.index(case.shift)
        new, prompt, truth = m["new"], m["prompt"], m["truth"]
        rows.append(
            {
                "task": "key",
                **labels,
                "passage": case.passage,
                "shift": case.shift,
                "follows": float(follows(new.classes, prompts, own)),
                "follows_real": float(follows(truth.classes, prompts, own)) if truth else math.nan,
                **_register("", new, prompt),
                **(_register("_real", truth, prompt) if truth else {}),
                "mean_pitch_prompt": prompt.mean_pitch,
                "notes_per_s_prompt": prompt.notes_per_s,
                "key_note_frames": new.note_frames,
                "key_tonality": m["tonality"],
                "key_hiss_db": m["hiss_db"],
                "key_seam_median": m["seam"],
                "key_wall_s": m["wall_s"],
            }
        )
        for w, piece in enumerate(m["windows"]):
            real = m["truth_windows"][w] if w < len(m["truth_windows"]) else None
            rows.append(
                {
                    "task": "key_window",
                    **labels,
                    "passage": case.passage,
                    "shift": case.shift,
                    "window": w + 1,
                    "follows": float(follows(piece.classes, prompts, own)),
                    "follows_real": float(follows(real.classes, prompts, own))
                    if real
                    else math.nan,
                    "key_note_frames": piece.note_frames,
                    "mean_pitch": piece.mean_pitch,
                    "notes_per_s": piece.notes_per_s,
                }
            )
    return rows


def _register(suffix: str, clip: Transcription, prompt: Transcription) -> dict[str, float]:
    return {
        f"mean_pitch{suffix}": clip.mean_pitch,
        f"notes_per_s{suffix}": clip.notes_per_s,
        f"pitch_gap{suffix}": clip.mean_pitch - prompt.mean_pitch,
    }


def _corr(xs: list[float], ys: list[float]) -> float:
    pairs = [(x, y) for x, y in zip(xs, ys) if x == x and y == y]
    if len(pairs) < 3:
        return math.nan
    try:
        return statistics.correlation([p[0] for p in pairs], [p[1] for p in pairs])
    except statistics.StatisticsError:  # a constant column
        return math.nan


def _mean(values) -> float:
    kept = [float(v) for v in values if v == v]
    return sum(kept) / len(kept) if kept else math.nan


def key_summary(rows: list[dict]) -> list[dict]:
    """One dict per (extender, sampler, harmony) group of ``key`` rows: top-1 shares, register
    correlation with the prompt, density, notes, tonality, hiss, seams, per-window top-1."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["task"] in ("key", "key_window", "key_influence"):
            cut = row["harmony_cut"]
            cut = cut if cut == cut else None  # NaN (harmony off) is one group, not one a row
            scale = row.get("profile_scale", math.nan)
            scale = scale if scale == scale else None  # likewise: no profile heard
            key = (row["extender"], row["sampler"], row["harmony_strength"], cut, scale)
            groups.setdefault(key, []).append(row)
    out = []
    for (ext, smp, strength, cut, scale), group in groups.items():
        keys = [r for r in group if r["task"] == "key"]
        windows = [r for r in group if r["task"] == "key_window"]
        pairs = [r for r in group if r["task"] == "key_influence"]
        prompt_pitch = [r["mean_pitch_prompt"] for r in keys]
        summary = {
            "extender": ext,
            "sampler": smp,
            "strength": strength,
            "cut": math.nan if cut is None else cut,
            "profile_scale": math.nan if scale is None else scale,
            "prompts": len(keys),
            "follows": sum(r["follows"] for r in keys),
            "top1": _mean(r["follows"] for r in keys),
            "top1_real": _mean(r["follows_real"] for r in keys),
            "pitch_corr": _corr([r["mean_pitch"] for r in keys], prompt_pitch),
            "pitch_corr_real": _corr(
                [r.get("mean_pitch_real", math.nan) for r in keys], prompt_pitch
            ),
            "pitch_gap": _mean(abs(r["pitch_gap"]) for r in keys),
            "pitch_gap_real": _mean(abs(r.get("pitch_gap_real", math.nan)) for r in keys),
            "notes_per_s": _mean(r["notes_per_s"] for r in keys),
            "notes_per_s_prompt": _mean(r["notes_per_s_prompt"] for r in keys),
            "notes_per_s_real": _mean(r.get("notes_per_s_real", math.nan) for r in keys),
            "note_frames": _mean(r["key_note_frames"] for r in keys),
            "tonality": _mean(r["key_tonality"] for r in keys),
            "hiss_db": _mean(r["key_hiss_db"] for r in keys),
            "seam_median": _mean(r["key_seam_median"] for r in keys),
            "pairs": len(pairs),
            "own_prompt_closer": _mean(r["own_prompt_closer"] for r in pairs),
        }
        late = sorted({k for r in pairs for k in r if k.startswith("corr_") and k.endswith("end")})
        for k in late:  # the last range, beyond the final edge: mean and worst pair
            summary[f"{k}_mean"] = _mean(r[k] for r in pairs)
            summary[f"{k}_max"] = max((r[k] for r in pairs if r[k] == r[k]), default=math.nan)
        for w in sorted({r["window"] for r in windows}):
            at = [r for r in windows if r["window"] == w]
            summary[f"top1_w{w}"] = _mean(r["follows"] for r in at)
            summary[f"top1_real_w{w}"] = _mean(r["follows_real"] for r in at)
        out.append(summary)
    return out


def _guidance_label(s: dict) -> str:
    """The harmony column of summary ``s``: the strength and cut (or off), and the profile
    scale w where the model heard a pitch profile."""
    harmony = "off" if not s["strength"] else f"{s['strength']:g} @ ᾱ≤{s['cut']:g}"
    scale = s.get("profile_scale", math.nan)
    return harmony if scale != scale else f"{harmony}, profile w={scale:g}"


def key_table(rows: list[dict]) -> str:
    """The key-following summary as markdown (empty when there are no key rows)."""
    summaries = key_summary(rows)
    if not summaries:
        return ""

    def f(v: float, digits: int = 2) -> str:
        return "–" if v != v else f"{v:.{digits}f}"

    lines = [
        "",
        "Key-following (chance 0.25; the real continuation is the ceiling):",
        "",
        "| extender | sampler | harmony | top-1 | real top-1 | pitch corr (real) | "
        "|Δ pitch| (real) | notes/s (prompt, real) | note frames | tonality | hiss dB | seam |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        harmony = _guidance_label(s)
        lines.append(
            f"| {s['extender']} | {s['sampler']} | {harmony} | {s['follows']:g}/{s['prompts']} "
            f"({f(s['top1'])}) | {f(s['top1_real'])} | {f(s['pitch_corr'])} "
            f"({f(s['pitch_corr_real'])}) | {f(s['pitch_gap'], 1)} ({f(s['pitch_gap_real'], 1)}) "
            f"| {f(s['notes_per_s'], 1)} ({f(s['notes_per_s_prompt'], 1)}, "
            f"{f(s['notes_per_s_real'], 1)}) | {f(s['note_frames'])} | {f(s['tonality'], 3)} "
            f"| {f(s['hiss_db'], 1)} | {f(s['seam_median'])} |"
        )
    paired = [s for s in summaries if s["pairs"]]
    if paired:
        lines += [
            "",
            "Prompt influence (same seed, pieces paired in the same key; 1.0 = the prompt never "
            "got there, own-prompt chroma 0.5 = chance):",
            "",
            "| extender | sampler | harmony | pairs | own-prompt chroma | late corr mean (max) |",
            "|---|---|---|---|---|---|",
        ]
        for s in paired:
            harmony = _guidance_label(s)
            late = [k[: -len("_mean")] for k in s if k.startswith("corr_") and k.endswith("_mean")]
            cells = ", ".join(f"{k[5:]} {f(s[k + '_mean'])} ({f(s[k + '_max'])})" for k in late)
            lines.append(
                f"| {s['extender']} | {s['sampler']} | {harmony} | {s['pairs']} "
                f"| {f(s['own_prompt_closer'])} | {cells or '–'} |"
            )
    per_window = [s for s in summaries if any(k.startswith("top1_w") for k in s)]
    if per_window:
        count = max(int(k[6:]) for s in per_window for k in s if k.startswith("top1_w"))
        lines += [
            "",
            "Key-following per extension window (generated; real in brackets):",
            "",
            "| extender | sampler | harmony | "
            + " | ".join(f"w{w}" for w in range(1, count + 1))
            + " |",
            "|---|---|---|" + "---|" * count,
        ]
        for s in per_window:
            harmony = _guidance_label(s)
            cells = [
                f"{f(s.get(f'top1_w{w}', math.nan))} ({f(s.get(f'top1_real_w{w}', math.nan))})"
                for w in range(1, count + 1)
            ]
            lines.append(
                f"| {s['extender']} | {s['sampler']} | {harmony} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"
