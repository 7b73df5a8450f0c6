"""The one generation pipeline: a request in, long audio out.

Every way of generating goes through here: the ``generate`` command (``generation/run.py``,
which adds the WAV and its sidecar), the Python API (``pianodiff.api``), the evaluation
harness (through the API), the benchmarks and the web page. A request is built from a
composed ``conf/generate.yaml`` by :func:`request_from_config`, so a new option is one key
in that file and one line here, and every caller has it.

    cfg = compose("generate", ["extender=repaint", "seconds=10"])
    request = request_from_config(cfg)                 # checks every value, loads the prompt
    networks = Networks(model, make)                   # the model's net, and its student's
    done = generate_with(networks, request)            # fits, picks the net, seeds, runs
    done.long.audio                                    # (T,) prompt + 10 s of new audio
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import resample
from pianodiff.diffusion.denoiser import Denoiser
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.diffusion.profile_guidance import calls_per_estimate
from pianodiff.diffusion.schedule import NoiseSchedule
from pianodiff.generation.configs import plan_from_config
from pianodiff.generation.device import denoiser_for
from pianodiff.generation.engine import LongAudio, WindowedGenerator, prompt_tail_seconds
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.plugins import GenerationPlugin
from pianodiff.generation.precision import Bf16Choice, parse_setting
from pianodiff.generation.presets import preset_of, preset_record
from pianodiff.generation.profile_conditioning import ProfileConditioning
from pianodiff.generation.prompt import check_prompt, check_prompt_end, load_prompt_file
from pianodiff.generation.students import Networks, fit_to_model
from pianodiff.generation.values import (
    check_candidates,
    check_flag,
    check_sample_rate,
    check_seed,
)
from pianodiff.inpaint.harmony import Harmony

MAX_SECONDS = 3600.0

PromptSource = torch.Tensor | str | Path | None


def check_seconds(seconds: Any) -> float:
    """``seconds`` as a float in (0, 1 h]; one clear error otherwise."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise GenerationError(f"seconds must be a number, got {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise GenerationError(f"seconds must be > 0, got {seconds}")
    if round(value * SAMPLE_RATE) < 1:
        raise GenerationError(f"seconds={value:g} is shorter than one sample")
    if value > MAX_SECONDS:
        raise GenerationError(f"seconds={value:g} is over the 1 h limit; generate in parts")
    return value


def draw_seed() -> int:
    """A fresh seed for ``seed=null``; it is recorded, so the run can be repeated."""
    return int.from_bytes(os.urandom(4), "little")


@dataclass(frozen=True)
class GenerationRequest:
    """One generation; its plain values are checked on construction (one line each).

    Attributes:
        seconds: new audio after the prompt, in (0, 3600].
        extender: the inpainting strategy of every extension window.
        sampler: a ``conf/sampler`` node (built over the model's schedule when run) or a
            ready :class:`SamplingPlan`.
        geometry: window, context and crossfade lengths.
        prompt: (T,) mono float32 at 22.05 kHz, kept whole; None starts from an
            unconditional base window.
        seed: the seed of every noise draw (never None: ``seed=null`` is drawn here).
        candidates: continuations sampled per window; the best seam is kept.
        include_prompt: False returns the new audio alone.
        prompt_name: where the prompt came from (a file path), for the record.
        preset: the ``conf/preset`` option the config was composed with (None: none).
        preset_fallback: the preset's sampler was replaced by its fallback, because the
            model cannot run it (``generation/students.py``).
        bf16: "auto", "true" or "false": how :func:`make_denoiser` decides bf16 autocast.
        harmony: harmony guidance toward the prompt's pitch profile (strength 0: off).
        pitch_profile: pitch-profile conditioning of a profile-conditioned network, with
            classifier-free guidance scale w (``generation/profile_conditioning.py``).
    """

    seconds: float
    extender: Inpainter
    sampler: DictConfig | SamplingPlan
    geometry: Geometry = field(default_factory=Geometry)
    prompt: torch.Tensor | None = None
    seed: int = 0
    candidates: int = 1
    include_prompt: bool = True
    prompt_name: str | None = None
    preset: str | None = None
    preset_fallback: bool = False
    bf16: str = "false"
    harmony: Harmony = field(default_factory=Harmony)
    pitch_profile: ProfileConditioning = field(default_factory=ProfileConditioning)

    def __post_init__(self) -> None:
        check_seconds(self.seconds)
        check_candidates(self.candidates)
        if check_seed(self.seed) is None:
            raise GenerationError("a request's seed is a whole number (draw_seed() for null)")
        check_flag("include_prompt", self.include_prompt)
        if self.bf16 not in ("auto", "true", "false"):
            raise GenerationError(f"a request's bf16 is auto, true or false, got {self.bf16!r}")

    def plan(self, schedule: NoiseSchedule) -> SamplingPlan:
        """The sampling plan over the model's noise ``schedule``."""
        if isinstance(self.sampler, SamplingPlan):
            return self.sampler
        return plan_from_config(self.sampler, schedule)


@dataclass
class Generated:
    """What the pipeline made: the audio and how it was made."""

    long: LongAudio
    request: GenerationRequest
    plan: SamplingPlan
    wall_seconds: float
    bf16: Bf16Choice | None = None
    pitch_profile: dict[str, Any] | None = None
    network: str = "checkpoint"

    def choices(self) -> dict[str, Any]:
        """What was chosen for the user, for the record: the preset, the sampler it selects
        and whether that sampler ran (an explicit ``sampler=`` wins), the network that ran
        ("checkpoint", or its restart student's folder), bf16 and its reason."""
        sampler = self.request.sampler
        if isinstance(sampler, DictConfig):
            record = preset_record(self.request.preset, sampler, self.request.preset_fallback)
        else:  # a ready SamplingPlan: whatever the preset said, it did not pick this
            record = {"preset": self.request.preset, "preset_sampler_used": False}
        record["network"] = self.network
        if self.bf16 is not None:
            record.update(self.bf16.record())
        record["harmony"] = self.request.harmony.record()
        record["pitch_profile"] = self.pitch_profile or self.request.pitch_profile.record()
        return record

    @property
    def calls_per_estimate(self) -> int:
        """Network calls per estimate in an extension window: 2 where profile guidance ran
        with a scale other than 0 or 1, else 1."""
        record = self.pitch_profile or {}
        return calls_per_estimate(record["scale"]) if record.get("ran") else 1

    @property
    def audio(self) -> torch.Tensor:
        """(T,) float32 on the CPU."""
        return self.long.audio.float().cpu()


def prompt_setting(cfg: DictConfig) -> Any:
    """The prompt file a config names: ``prompt``, or its older name ``ground_file``."""
    prompt, ground = cfg.get("prompt"), cfg.get("ground_file")
    if prompt and ground and str(prompt) != str(ground):
        raise GenerationError(
            f"prompt={prompt} and ground_file={ground} disagree; give only prompt= "
            "(ground_file is its older name)"
        )
    return prompt or ground or None


def load_prompt(
    source: PromptSource,
    geometry: Geometry,
    include_prompt: bool = True,
    sample_rate: int | None = None,
    harmony: Harmony | None = None,
    pitch_profile: ProfileConditioning | None = None,
) -> torch.Tensor | None:
    """The prompt as mono (T,) float32 at 22.05 kHz, or None for an unconditional start.

    ``source`` is a file (any format soundfile reads; only its tail is decoded when the
    prompt is left out of the output) or a (T,) / (channels, T) tensor at ``sample_rate``
    (default: the model's rate). Empty, non-finite or silent prompts are refused in one line.
    With ``harmony`` on, a file is read whole: its target is the whole prompt's profile; a
    ``pitch_profile`` that may run reads the longest profile's seconds more.
    """
    rate = SAMPLE_RATE if sample_rate is None else check_sample_rate(sample_rate)
    if source is None:
        return None
    end = geometry.window_seconds  # what the first window hears must not be silent
    if isinstance(source, str | Path):
        tail = None if include_prompt else prompt_tail_seconds(geometry, harmony, pitch_profile)
        return load_prompt_file(source, SAMPLE_RATE, tail, end_seconds=end)
    wav = torch.as_tensor(source, dtype=torch.float32)
    if wav.ndim == 2:  # (channels, T) -> mono
        wav = wav.mean(dim=0)
    if wav.ndim != 1 or wav.numel() == 0:
        raise GenerationError("audio must be a non-empty (T,) or (channels, T) tensor")
    check_prompt(wav, "audio")
    return check_prompt_end(resample(wav, rate, SAMPLE_RATE), end, "audio")


def request_from_config(
    cfg: DictConfig,
    prompt: PromptSource = None,
    sample_rate: int | None = None,
) -> GenerationRequest:
    """The request a composed ``conf/generate.yaml`` describes.

    Args:
        cfg: the generate config (the command line's, or the API's composition).
        prompt: audio to continue, instead of the file ``cfg.prompt`` names (the API's
            tensors).
        sample_rate: the rate of a tensor ``prompt``.
    """
    seconds = check_seconds(cfg.seconds)
    candidates = check_candidates(cfg.candidates)
    include_prompt = check_flag("include_prompt", cfg.get("include_prompt", True))
    seed = check_seed(cfg.seed)
    geometry = Geometry(**OmegaConf.to_container(cfg.geometry, resolve=True))
    extender = instantiate(cfg.extender)
    harmony = Harmony(**OmegaConf.to_container(cfg.get("harmony") or {}, resolve=True))
    pitch_profile = profile_settings(cfg)
    source = prompt if prompt is not None else prompt_setting(cfg)
    name = str(source) if isinstance(source, str | Path) else None
    audio = load_prompt(source, geometry, include_prompt, sample_rate, harmony, pitch_profile)
    return GenerationRequest(
        seconds=seconds,
        extender=extender,
        sampler=cfg.sampler,
        geometry=geometry,
        prompt=audio,
        seed=seed if seed is not None else draw_seed(),
        candidates=candidates,
        include_prompt=include_prompt,
        prompt_name=name,
        preset=preset_of(cfg),
        bf16=parse_setting(cfg.get("bf16", False)),
        harmony=harmony,
        pitch_profile=pitch_profile,
    )


def profile_settings(cfg: DictConfig) -> ProfileConditioning:
    """The ``pitch_profile:`` node of a generate config, checked (one line if unknown keys)."""
    node = OmegaConf.to_container(cfg.get("pitch_profile") or {}, resolve=True)
    unknown = sorted(set(node) - {"use", "scale", "source"})
    if unknown:
        raise GenerationError(
            f"pitch_profile has no setting {unknown[0]}; its settings are use, scale, source"
        )
    return ProfileConditioning(**node)


def make_denoiser(
    net: torch.nn.Module, schedule: NoiseSchedule, bf16: Any = "auto", compile: bool = False
) -> tuple[Denoiser, Bf16Choice]:
    """The denoiser of a loaded ``net`` with ``bf16`` resolved (true, false, or "auto": timed
    once per host and model, then cached; ``generation/precision.py``), and the choice made,
    to hand to :func:`generate` for the record."""
    device = next(net.parameters()).device
    mid_step = 0.5 * (schedule.num_steps - 1)  # the probe's noise level: mid-schedule
    return denoiser_for(net, device, bf16, compile, mid_step)


def generate(
    denoiser: Denoiser,
    request: GenerationRequest,
    schedule: NoiseSchedule,
    plugin: GenerationPlugin | None = None,
    bf16: Bf16Choice | None = None,
) -> Generated:
    """Run ``request`` with the network behind ``denoiser`` over its noise ``schedule``.

    ``bf16``: how the denoiser's precision was chosen (:func:`make_denoiser`), kept for
    :meth:`Generated.choices`.

    Sampling runs under ``torch.no_grad()``, not ``inference_mode()``: guidance extenders
    take gradients locally. Non-finite audio is refused (a broken checkpoint).
    """
    plan = request.plan(schedule)
    device = next(denoiser.net.parameters()).device
    generator = torch.Generator(device=device).manual_seed(request.seed)
    engine = WindowedGenerator(
        denoiser,
        request.extender,
        plan,
        request.geometry,
        generator=generator,
        candidates=request.candidates,
        plugin=plugin,
        harmony=request.harmony,
        pitch_profile=request.pitch_profile,
    )
    start = time.perf_counter()
    with torch.no_grad():
        long = engine.generate(request.seconds, request.prompt, request.include_prompt)
    wall = time.perf_counter() - start
    if not bool(torch.isfinite(long.audio).all()):
        raise GenerationError("the model produced NaN/inf audio; check the checkpoint")
    return Generated(
        long=long,
        request=request,
        plan=plan,
        wall_seconds=wall,
        bf16=bf16,
        pitch_profile=engine.profile_record(),
    )


def generate_with(
    networks: Networks, request: GenerationRequest, plugin: GenerationPlugin | None = None
) -> Generated:
    """Run ``request`` on the loaded model behind ``networks``: fitted to the model (a
    preset's restart walk falls back where the model has no student), on the network its
    plan runs (``generation/students.py``), through :func:`generate`."""
    model = networks.model
    request = fit_to_model(request, model)
    denoiser, bf16, network = networks.for_plan(request.plan(model.schedule))
    done = generate(denoiser, request, model.schedule, plugin, bf16=bf16)
    done.network = network
    return done
