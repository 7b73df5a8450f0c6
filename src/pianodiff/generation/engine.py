"""The windowed generation loop: a prompt, then extension windows that continue it.

The prompt is a recording the caller gives (used whole) or, without one, an unconditional
base window. ``seconds`` always counts the *new* audio after the prompt, and the result is
the prompt followed by it (``include_prompt=False``: the new audio alone). The prompt's
samples are kept exactly up to the first crossfade.

Each extension window is an inpainting problem: its head is the tail of the audio so far
(known), the rest is sampled by the chosen Inpainter over the chosen SamplingPlan. With
``candidates = N`` every window is sampled N times in one batch and the candidate whose
join has the lowest seam score is kept; the cost meter counts all N. With ``harmony``
(``inpaint/harmony.py``) every extension window's reverse process is nudged toward the
pitch profile of the whole prompt (or of all audio so far): the engine is where that audio
is known. With ``pitch_profile`` (``generation/profile_conditioning.py``) a
profile-conditioned network is handed the pitch profile of the audio before each window
(or before the first, for every window), with classifier-free guidance at scale w. The loop
holds no I/O; plugins hear about every window and every sampler step.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.diffusion.context import InpaintContext
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.sampler import sample
from pianodiff.generation.cost import CostMeter
from pianodiff.generation.geometry import Geometry, WindowSpan, layout
from pianodiff.generation.plugins import GenerationPlugin, WindowEvent
from pianodiff.generation.profile_conditioning import ActiveProfile, ProfileConditioning
from pianodiff.generation.windows import context_batch, join
from pianodiff.inpaint.harmony import Harmony, HarmonyGuide
from pianodiff.inpaint.replacement import Replacement
from pianodiff.measures.seam import N_FFT, frame_changes, seam_scores_from_changes

SEAM_EXCERPT_SECONDS = 2.0  # audio each side of a seam used to rank candidates


def prompt_tail_seconds(
    geometry: Geometry,
    harmony: Harmony | None = None,
    profile: ProfileConditioning | None = None,
) -> float | None:
    """The end of a prompt that the new audio depends on: the first window's context and the
    excerpt its candidates are ranked on (and a margin for resampling at the edge), and,
    where a pitch profile may be used, the longest profile before the first window. Reading
    only this much of a recording gives the same new audio as reading all of it. None when
    harmony guidance is on: its target is the whole prompt's profile, so read all of it."""
    if harmony is not None and harmony.active:
        return None
    tail = max(geometry.window_seconds, SEAM_EXCERPT_SECONDS)
    if profile is not None and profile.may_run:
        tail = max(tail, geometry.context_seconds + profile.prompt_seconds_needed())
    return tail + 0.05


@dataclass
class LongAudio:
    """The result of a windowed run.

    Attributes:
        audio: (T,) float32: the prompt followed by the new audio, or the new audio alone.
        base_samples: samples of ``audio`` before the new audio (the prompt's length; 0
            when the prompt was left out).
        seams: sample positions in ``audio`` where each extension window's new audio
            begins.
        seam_scores: the kept candidate's seam score at each seam (local excerpt).
        cost: the run's cost meter (NFE, network-audio-seconds).
        prompt_samples: length of the prompt (the recording, or the base window), whether
            or not ``audio`` holds it.
    """

    audio: torch.Tensor
    base_samples: int
    seams: list[int] = field(default_factory=list)
    seam_scores: list[float] = field(default_factory=list)
    cost: CostMeter = field(default_factory=CostMeter)
    prompt_samples: int = 0

    def without_prompt(self) -> LongAudio:
        """The same run with only the new audio; seams shifted to match."""
        cut = self.base_samples
        return replace(
            self, audio=self.audio[cut:], base_samples=0, seams=[s - cut for s in self.seams]
        )


class WindowedGenerator:
    """Generate long audio window by window.

    Args:
        denoiser: the network wrapper (counts NFE).
        inpainter: the extension strategy.
        plan: the sampling plan walked in every window.
        geometry: window, context and crossfade lengths.
        generator: the random generator of every noise draw (seeded determinism).
        candidates: continuations sampled per window (one batch); the best seam is kept.
        plugin: receives window events and step payloads.
        sample_rate: audio rate in Hz.
        harmony: harmony guidance settings; None (or strength 0) samples without it.
        pitch_profile: pitch-profile conditioning settings; None samples without a profile.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        inpainter: Inpainter,
        plan: SamplingPlan,
        geometry: Geometry,
        generator: torch.Generator | None = None,
        candidates: int = 1,
        plugin: GenerationPlugin | None = None,
        sample_rate: int = SAMPLE_RATE,
        clip_x0: bool = True,
        harmony: Harmony | None = None,
        pitch_profile: ProfileConditioning | None = None,
    ):
        if candidates < 1:
            raise ValueError("candidates must be >= 1")
        self.denoiser, self.inpainter, self.plan = denoiser, inpainter, plan
        # An unconditional base window has no known region: every extender would reduce to
        # plain sampling, so the plain walk is used (RePaint's jumps or guidance's backward
        # passes would only cost).
        self.base_inpainter: Inpainter = Replacement()
        self.geometry, self.generator, self.candidates = geometry, generator, candidates
        self.plugin = plugin or GenerationPlugin()
        self.sample_rate, self.clip_x0 = sample_rate, clip_x0
        self.window, self.context, self.crossfade = geometry.samples(sample_rate)
        self.harmony = harmony if harmony is not None and harmony.active else None
        self._prompt_guide: HarmonyGuide | None = None
        self.profile: ActiveProfile | None = (
            pitch_profile.resolve(denoiser.net) if pitch_profile is not None else None
        )
        self.profile_settings = pitch_profile
        self._prompt_profile: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.net.parameters()).device

    def count_windows(self, seconds: float, ground: torch.Tensor | None) -> list[WindowSpan]:
        existing = self.window if ground is None else len(ground)
        return layout(existing, round(seconds * self.sample_rate), self.window, self.context)

    def generate(
        self, seconds: float, ground: torch.Tensor | None = None, include_prompt: bool = True
    ) -> LongAudio:
        """The prompt followed by ``seconds`` of new audio.

        Args:
            seconds: new audio to add after the prompt.
            ground: (T,) a recording to continue, used whole; None samples an unconditional
                base window (``geometry.window_seconds`` long) as the prompt.
            include_prompt: False returns the new audio alone (``seconds`` long).
        """
        spans = self.count_windows(seconds, ground)
        num_windows = len(spans) + (1 if ground is None else 0)
        moves = len(self.inpainter.walk(self.plan)) - 1
        base_moves = len(self.base_inpainter.walk(self.plan)) - 1 if ground is None else 0
        walk_nfe = self.inpainter.nfe(self.plan) * self._calls_per_estimate
        base_nfe = self.base_inpainter.nfe(self.plan) if ground is None else 0
        self.plugin.on_start(
            {
                "plan": self.plan.name,
                "extender": self.inpainter.name,
                "num_windows": num_windows,
                "moves_per_window": moves,
                "total_moves": base_moves + moves * len(spans),
                "nfe_per_window": walk_nfe,
                "candidates": self.candidates,
                # every network evaluation of the run, each candidate counted
                "total_nfe": base_nfe + walk_nfe * self.candidates * len(spans),
                "harmony": self.harmony.record() if self.harmony else None,
                "pitch_profile": self.profile_record(),
            }
        )
        cost = CostMeter()
        if ground is None:
            base = self._base_window(num_windows, cost)
        else:
            base = ground.to(self.device, torch.float32)
        out = LongAudio(audio=base, base_samples=len(base), cost=cost, prompt_samples=len(base))
        self._prompt_guide = (
            self.harmony.guide_for(base, self.sample_rate) if self.harmony else None
        )
        if self.profile is not None and spans:  # the audio before the first window
            self._prompt_profile = self.profile.profile_before(
                base, len(base) - spans[0].context, self.sample_rate
            )
        offset = num_windows - len(spans)
        for span in spans:
            self._extend(out, span, span.index + offset, num_windows)
        return out if include_prompt else out.without_prompt()

    def _sample(
        self,
        known,
        mask,
        index: int,
        num_windows: int,
        inpainter: Inpainter,
        guide: HarmonyGuide | None = None,
        denoiser: Denoiser | None = None,
    ) -> tuple[torch.Tensor, int]:
        ctx = InpaintContext(known, mask, self.plan, self.generator, self.clip_x0, guide)
        calls = 1 if denoiser is None else self._calls_per_estimate
        denoiser = self.denoiser if denoiser is None else denoiser
        before = self.denoiser.nfe

        def on_step(payload: dict) -> None:
            self.plugin.on_step({**payload, "window": index, "num_windows": num_windows})

        x = sample(denoiser, inpainter, ctx, callback=on_step)
        nfe = self.denoiser.nfe - before
        expected = inpainter.nfe(self.plan) * calls
        if nfe != expected:  # the contract every inpainter promises
            raise RuntimeError(f"{inpainter.name} made {nfe} evaluations, declared {expected}")
        return x, nfe

    def _record(
        self, cost: CostMeter, nfe: int, length: int, new: int, inpainter: Inpainter, batch: int
    ) -> None:
        """Add one window's cost: ``nfe`` batched calls over ``batch`` candidates."""
        sr = self.sample_rate
        cost.add(nfe, inpainter.forward_equivalents(nfe), length / sr, new / sr, batch=batch)

    def _base_window(self, num_windows: int, cost: CostMeter) -> torch.Tensor:
        event = WindowEvent("start", 0, num_windows, "base", 0, 0, self.window)
        self.plugin.on_window(event)
        zeros = torch.zeros(1, self.window, device=self.device)
        x, nfe = self._sample(zeros, zeros, 0, num_windows, self.base_inpainter)
        self._record(cost, nfe, self.window, self.window, self.base_inpainter, batch=1)
        base = x[0]
        end = WindowEvent("end", 0, num_windows, "base", 0, 0, self.window, nfe=nfe, audio=base)
        self.plugin.on_window(end)
        return base

    def _extend(self, out: LongAudio, span: WindowSpan, index: int, num_windows: int) -> None:
        seam = len(out.audio)
        start = seam - span.context
        info = (index, num_windows, "extend", start, span.context, span.new)
        self.plugin.on_window(WindowEvent("start", *info, seam=seam))
        tail = out.audio[seam - span.context :]
        known, mask = context_batch(tail, span.new, self.candidates)
        x, nfe = self._sample(
            known,
            mask,
            index,
            num_windows,
            self.inpainter,
            self._guide(out),
            self._profiled(out.audio, start),
        )
        self._record(out.cost, nfe, span.length, span.new, self.inpainter, x.shape[0])
        scores, best = self._rank(out.audio, x, span)
        out.audio = join(out.audio, x[best], span.context, self.crossfade)
        out.seams.append(seam)
        out.seam_scores.append(scores[best])
        self.plugin.on_window(
            WindowEvent(
                "end", *info, seam=seam, nfe=nfe, seam_scores=scores, chosen=best, audio=x[best]
            )
        )

    @property
    def _calls_per_estimate(self) -> int:
        """Network calls per estimate in an extension window (2 with profile guidance)."""
        return self.profile.calls_per_estimate if self.profile is not None else 1

    def profile_record(self) -> dict | None:
        """The pitch-profile settings and what ran, for the record; None without settings."""
        if self.profile_settings is None:
            return None
        return self.profile_settings.record(self.profile)

    def _profiled(self, audio: torch.Tensor, start: int) -> Denoiser | None:
        """The denoiser of a window starting at sample ``start`` of ``audio``: handed the
        profile of the audio before it (or before the first window); None without one."""
        if self.profile is None:
            return None
        if self.profile.source == "prompt" and self._prompt_profile is not None:
            profile = self._prompt_profile
        else:
            profile = self.profile.profile_before(audio, start, self.sample_rate)
        return self.profile.denoiser(self.denoiser, profile)

    def _guide(self, out: LongAudio) -> HarmonyGuide | None:
        """The harmony guide of the next window: toward the prompt, or all audio so far."""
        if self.harmony is None or self.harmony.source == "prompt":
            return self._prompt_guide
        return self.harmony.guide_for(out.audio, self.sample_rate)

    def _rank(
        self, existing: torch.Tensor, batch: torch.Tensor, span: WindowSpan
    ) -> tuple[list[float], int]:
        """Seam score of every candidate on a local excerpt around the seam; the lowest wins."""
        keep = min(len(existing), round(SEAM_EXCERPT_SECONDS * self.sample_rate))
        joined = join(existing[-keep:], batch, span.context, self.crossfade)  # (N, keep + new)
        excerpt = joined[:, : keep + min(span.new, keep)]
        if excerpt.shape[-1] <= N_FFT:  # too short for a spectrogram: keep the first
            return [float("nan")] * batch.shape[0], 0
        changes = frame_changes(excerpt.float().cpu(), self.sample_rate)
        scores = seam_scores_from_changes(changes, [keep])[:, 0]
        return [float(s) for s in scores], int(torch.argmin(scores))
