"""The Python API: the original project's ``setup``/``infer`` pair and a small object API.

    from pianodiff.api import Generator
    gen = Generator.from_checkpoint("checkpoints/piano14-ctx")
    audio, sr = gen.generate(10)                                  # 5 s base + 10 s new
    audio, sr = gen.extend(my_audio, 20, extender="repaint")      # all of my_audio + 20 s new
    audio, sr = gen.extend(my_audio, 20, include_prompt=False)    # the 20 s of new audio only

    from pianodiff.api import setup, infer
    model, device = setup({"model_dir": "checkpoints/piano14-ctx"})
    audio, sr = infer(model, "interpolation", "prompt.wav", device, 20)

Sampling runs under ``torch.no_grad()`` rather than ``torch.inference_mode()`` because the
guidance extender needs autograd locally. Audio is returned as a (T,) float32 CPU tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.checkpoint.export import LoadedModel, load_export
from pianodiff.core.audio import resample
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.generation.configs import build_extender, build_plan, generate_default
from pianodiff.generation.device import make_denoiser, pick_device
from pianodiff.generation.engine import LongAudio, WindowedGenerator, prompt_tail_seconds
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.ground import check_prompt, check_prompt_end, load_ground
from pianodiff.generation.plugins import GenerationPlugin
from pianodiff.generation.run import check_seconds
from pianodiff.generation.values import check_candidates, check_flag, check_sample_rate, check_seed


class Generator:
    """A loaded model ready to generate and extend piano audio.

    Args:
        model: a loaded export (``checkpoint.load_export``).
        device: where the network runs.
        bf16: run the network under bf16 autocast.
        compile: ``torch.compile`` the network.
    """

    def __init__(
        self, model: LoadedModel, device: torch.device, bf16: bool = False, compile: bool = False
    ):
        self.model, self.device = model, device
        self.denoiser = make_denoiser(model.net, bf16, compile)
        self.sample_rate = SAMPLE_RATE
        self.last: LongAudio | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        bf16: bool = False,
        compile: bool = False,
    ) -> Generator:
        """Load an export folder; device defaults to cuda > mps > cpu."""
        dev = pick_device(device)
        return cls(load_export(path, dev), dev, bf16=bf16, compile=compile)

    def extend(
        self,
        audio: torch.Tensor | str | Path | None,
        seconds: float,
        extender: str | Inpainter | None = None,
        sampler: str | SamplingPlan | None = None,
        sampler_params: dict[str, Any] | None = None,
        seed: int | None = 0,
        candidates: int = 1,
        geometry: Geometry | None = None,
        sample_rate: int | None = None,
        plugins: list[GenerationPlugin] | None = None,
        include_prompt: bool = True,
        **extender_params: Any,
    ) -> tuple[torch.Tensor, int]:
        """Continue ``audio`` ((T,) tensor at ``sample_rate``, or a file) by ``seconds``.

        Returns (all of ``audio`` at 22.05 kHz mono followed by ``seconds`` of new audio,
        sample rate); ``audio``'s samples are kept exactly up to the first crossfade.
        ``audio=None`` starts from an unconditional base window (it opens the output like a
        recording would). ``include_prompt=False`` returns the new audio alone
        (``seconds`` long). ``extender`` and ``sampler`` default to the CLI's
        (conf/generate.yaml's defaults list). ``sampler_params`` and ``extender_params``
        override the shipped YAML (e.g. ``num_steps=10``, ``xi=0.5``).
        """
        seconds = check_seconds(seconds)
        include_prompt = check_flag("include_prompt", include_prompt)
        seed = check_seed(seed)
        candidates = check_candidates(candidates)
        geometry = geometry or Geometry()
        tail = None if include_prompt else prompt_tail_seconds(geometry)  # else all of it
        ground = self._ground(audio, sample_rate, tail, geometry.window_seconds)
        if extender is None:
            extender = generate_default("extender")
        if sampler is None:
            sampler = generate_default("sampler")
        inpainter = build_extender(extender, **extender_params)
        plan = build_plan(sampler, self.model.schedule, **(sampler_params or {}))
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**31))
        engine = WindowedGenerator(
            self.denoiser,
            inpainter,
            plan,
            geometry,
            generator=generator,
            candidates=candidates,
            plugin=_combine(plugins),
        )
        with torch.no_grad():
            self.last = engine.generate(seconds, ground, include_prompt=include_prompt)
        return self.last.audio.float().cpu(), self.sample_rate

    def generate(self, seconds: float, **kwargs: Any) -> tuple[torch.Tensor, int]:
        """An unconditional base window followed by ``seconds`` of new audio."""
        return self.extend(None, seconds, **kwargs)

    def _ground(
        self,
        audio,
        sample_rate: int | None,
        tail_seconds: float | None,
        end_seconds: float | None = None,
    ) -> torch.Tensor | None:
        """The prompt as (T,) at the model's rate; refused like a ground file on the CLI
        (empty, NaN/inf or silent), and a ``sample_rate`` that is not a positive whole
        number of Hz (0 would silently mean the model's rate) is refused too."""
        rate = self.sample_rate if sample_rate is None else check_sample_rate(sample_rate)
        if audio is None:
            return None
        if isinstance(audio, str | Path):
            return load_ground(audio, self.sample_rate, tail_seconds, end_seconds)
        wav = torch.as_tensor(audio, dtype=torch.float32)
        if wav.ndim == 2:  # (channels, T) -> mono
            wav = wav.mean(dim=0)
        if wav.ndim != 1 or wav.numel() == 0:
            raise GenerationError("audio must be a non-empty (T,) or (channels, T) tensor")
        check_prompt(wav, "audio")
        return check_prompt_end(resample(wav, rate, self.sample_rate), end_seconds, "audio")


def _combine(plugins: list[GenerationPlugin] | None) -> GenerationPlugin | None:
    from pianodiff.generation.plugins import PluginList

    return PluginList(plugins) if plugins else None


def setup(config: dict[str, Any]) -> tuple[Generator, torch.device]:
    """Load a model once: ``config = {"model_dir": ..., "device": None, "bf16": False}``."""
    gen = Generator.from_checkpoint(
        config["model_dir"], device=config.get("device"), bf16=bool(config.get("bf16", False))
    )
    return gen, gen.device


def infer(
    model: Generator,
    extender: str,
    ground_file: str | Path | None,
    device: torch.device | str | None,
    seconds: float,
    **kwargs: Any,
) -> tuple[torch.Tensor, int]:
    """Continue ``ground_file`` (or start from scratch when None) by ``seconds`` of new audio.

    ``device`` is the one ``setup`` returned (kept for the original signature).
    Returns ((T,) float32 audio, sample rate).
    """
    if device is not None and torch.device(device) != model.device:
        raise ValueError(f"model lives on {model.device}, not {device}; pass setup()'s device")
    return model.extend(ground_file, seconds, extender=extender, **kwargs)
