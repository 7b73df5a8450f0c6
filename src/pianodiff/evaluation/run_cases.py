"""Run one evaluation case with one extender and sampler, and measure it.

Gap filling is one sampler call with a two-sided mask; a continuation is
``pianodiff.api.Generator.extend`` from the real audio before a cut, the very path
``pianodiff.generate`` takes; an unconditional sample is generate's base window; prompt
influence compares the same-seed continuations of two different prompts. Each returns flat
rows of metrics (dicts) ready for a CSV.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.api import Generator
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.sampler import sample
from pianodiff.evaluation.cases import ExtensionCase, GapCase
from pianodiff.evaluation.influence import influence_row
from pianodiff.inpaint.harmony import Harmony
from pianodiff.inpaint.replacement import Replacement
from pianodiff.measures.chroma import continuity_at
from pianodiff.measures.hiss import hiss_floor
from pianodiff.measures.natural import percentile_of, seam_scores_at
from pianodiff.measures.notes import note_metrics
from pianodiff.measures.onsets import onset_rate
from pianodiff.measures.spectral import log_spectral_distance, snr_db
from pianodiff.measures.tonality import tonality


@dataclass
class Setup:
    """What every case of one (extender, sampler) pair shares."""

    model: Generator
    inpainter: Inpainter
    plan: SamplingPlan
    extender: str
    sampler: str
    seed: int = 0
    device: str = "cpu"
    sample_rate: int = SAMPLE_RATE

    @property
    def denoiser(self) -> Denoiser:
        return self.model.denoiser

    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed)

    def labels(self) -> dict:
        return {"extender": self.extender, "sampler": self.sampler}


@torch.no_grad()  # not inference_mode: the guidance extender re-enables autograd inside
def run_gap_case(setup: Setup, case: GapCase) -> dict:
    """Fill a centred gap; LSD and SNR on the gap, SNR of the known region (its change)."""
    known = case.excerpt.to(setup.device).unsqueeze(0)
    mask = torch.ones_like(known)
    mask[:, case.gap_start : case.gap_stop] = 0.0
    ctx = InpaintContext(known, mask, setup.plan, setup.generator())
    before, start = setup.denoiser.nfe, time.perf_counter()
    out = sample(setup.denoiser, setup.inpainter, ctx)[0].float().cpu()
    wall = time.perf_counter() - start
    gap = slice(case.gap_start, case.gap_stop)
    keep = mask[0].cpu().bool()
    return {
        "task": "gap",
        **setup.labels(),
        "file": case.file,
        "position_s": case.offset / setup.sample_rate,
        "gap_ms": case.gap_ms,
        "lsd_db": float(log_spectral_distance(case.excerpt[gap], out[gap])),
        "snr_db": float(snr_db(case.excerpt[gap], out[gap])),
        "known_snr_db": float(snr_db(case.excerpt[keep], out[keep])),
        "nfe": setup.denoiser.nfe - before,
        "wall_s": wall,
    }


def _first_window_plugin():
    """A generation plugin that keeps the first extension window's own audio."""
    from pianodiff.generation.plugins import GenerationPlugin

    class FirstWindow(GenerationPlugin):
        audio: torch.Tensor | None = None
        context: int = 0

        def on_window(self, event) -> None:
            if event.phase == "end" and event.kind == "extend" and self.audio is None:
                self.audio, self.context = event.audio.detach().float().cpu(), event.context

    return FirstWindow()


@torch.no_grad()
def run_extension_case(
    setup: Setup,
    case: ExtensionCase,
    geometry: dict,
    natural: torch.Tensor,
    candidates: int = 1,
    continuity_seconds: float = 2.0,
    harmony: Harmony | None = None,
) -> tuple[list[dict], torch.Tensor]:
    """Continue real audio from a cut; one "extend" row plus one "seam" row per seam.
    ``harmony``: harmony guidance of the continuation (None: off, whatever generate's default).

    Returns (rows, the new audio (T,) from the cut on).
    """
    from pianodiff.generation.geometry import Geometry

    sr = setup.sample_rate
    first = _first_window_plugin()
    start = time.perf_counter()
    setup.model.extend(
        case.ground,
        len(case.truth) / sr,
        extender=setup.inpainter,
        sampler=setup.plan,
        seed=setup.seed,
        candidates=candidates,
        geometry=Geometry(**geometry),
        sample_rate=sr,
        plugins=[first],
        settings={f"harmony.{k}": v for k, v in (harmony or Harmony()).record().items()},
    )
    wall = time.perf_counter() - start
    result = setup.model.last
    audio = result.audio.float().cpu()
    new = audio[result.base_samples :]
    real = torch.cat([case.ground, case.truth])
    known = case.ground[-first.context :] if first.context else case.ground[:0]
    cost = result.cost.summary()
    common = {**setup.labels(), "file": case.file, "position_s": case.cut / sr}
    rows = [
        {
            "task": "extend",
            **common,
            "known_snr_db": float(snr_db(known, first.audio[: first.context]))
            if first.audio is not None and first.context
            else float("nan"),
            "tonality": tonality(new, sr),
            "tonality_real": tonality(case.truth, sr),
            "onset_rate": onset_rate(new, sr),
            "onset_rate_real": onset_rate(case.truth, sr),
            **note_metrics(new, sr),
            **note_metrics(case.truth, sr, suffix="_real"),
            "nfe": cost["nfe"],
            "net_audio_s_per_s": cost["network_audio_seconds_per_output_second"],
            "harmony_strength": (harmony or Harmony()).strength,
            "wall_s": wall,
            "realtime_factor": wall / max(len(new) / sr, 1e-9),
        }
    ]
    scores = seam_scores_at(audio, result.seams, sr)
    for k, (seam, score) in enumerate(zip(result.seams, scores)):
        rows.append(
            {
                "task": "seam",
                **common,
                "seam_index": k,
                "seam_score": score,
                "seam_percentile": percentile_of(score, natural),
                "chroma_generated": continuity_at(audio, seam, continuity_seconds, sr),
                "chroma_real": continuity_at(real, len(case.ground), continuity_seconds, sr)
                if k == 0
                else float("nan"),
            }
        )
    return rows, new


@torch.no_grad()
def run_unconditional_case(setup: Setup, seed: int, seconds: float) -> dict:
    """``seconds`` from noise with an empty mask: generate's base window for ``seed``."""
    sr = setup.sample_rate
    mask = torch.zeros(1, round(seconds * sr), device=setup.device)
    gen = torch.Generator(device=setup.device).manual_seed(seed)
    ctx = InpaintContext(torch.zeros_like(mask), mask, setup.plan, gen)
    before, start = setup.denoiser.nfe, time.perf_counter()
    audio = sample(setup.denoiser, Replacement(), ctx)[0].float().cpu()
    return {
        "task": "unconditional",
        "extender": "unconditional",
        "sampler": setup.sampler,
        "seed": seed,
        "seconds": seconds,
        "tonality": tonality(audio, sr),
        "hiss_db": hiss_floor(audio, sr),
        "onset_rate": onset_rate(audio, sr),
        **note_metrics(audio, sr),
        "nfe": setup.denoiser.nfe - before,
        "wall_s": time.perf_counter() - start,
    }


def run_influence(
    setup: Setup,
    cases: list[ExtensionCase],
    continuations: list[torch.Tensor],
    edges: list[float],
) -> list[dict]:
    """One "influence" row per pair of continuations of prompts from different files.

    All continuations of one setup share its seed, so they started from the same noise.
    """
    rows = []
    for i in range(len(cases)):
        for j in range(i + 1, len(cases)):
            a, b = cases[i], cases[j]
            if a.file == b.file:
                continue
            rows.append(
                {
                    "task": "influence",
                    **setup.labels(),
                    "file": a.file,
                    "file_b": b.file,
                    "position_s": a.cut / setup.sample_rate,
                    "position_b_s": b.cut / setup.sample_rate,
                    **influence_row(
                        continuations[i],
                        continuations[j],
                        a.ground,
                        b.ground,
                        edges,
                        setup.sample_rate,
                    ),
                }
            )
    return rows
