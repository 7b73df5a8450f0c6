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

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from pianodiff import SAMPLE_RATE
from pianodiff.checkpoint.export import LoadedModel, load_export
from pianodiff.diffusion.hooks import Inpainter
from pianodiff.diffusion.plan import SamplingPlan
from pianodiff.generation.configs import generate_settings
from pianodiff.generation.device import pick_device
from pianodiff.generation.engine import LongAudio
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.pipeline import (
    Generated,
    generate_with,
    make_denoiser,
    request_from_config,
)
from pianodiff.generation.plugins import GenerationPlugin, PluginList
from pianodiff.generation.students import Networks


class Generator:
    """A loaded model ready to generate and extend piano audio.

    Args:
        model: a loaded export (``checkpoint.load_export``).
        device: where the network runs.
        bf16: run the network under bf16 autocast: True, False, or "auto" (timed once per host
            and model, then cached; ``generation/precision.py``).
        compile: ``torch.compile`` the network.
    """

    def __init__(
        self,
        model: LoadedModel,
        device: torch.device,
        bf16: bool | str = False,
        compile: bool = False,
    ):
        self.model, self.device = model, device
        self.denoiser, self.bf16 = make_denoiser(model.net, model.schedule, bf16, compile)
        # a restart walk runs the model's distilled student, loaded on first use
        self.networks = Networks(
            model,
            lambda net, schedule: make_denoiser(net, schedule, bf16, compile),
            own=(self.denoiser, self.bf16),
        )
        self.sample_rate = SAMPLE_RATE
        self.last: LongAudio | None = None
        self.last_run: Generated | None = None

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        bf16: bool | str = False,
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
        preset: str | None = None,
        seed: int | None = 0,
        candidates: int = 1,
        geometry: Geometry | None = None,
        sample_rate: int | None = None,
        plugins: list[GenerationPlugin] | None = None,
        include_prompt: bool = True,
        settings: dict[str, Any] | None = None,
        **extender_params: Any,
    ) -> tuple[torch.Tensor, int]:
        """Continue ``audio`` ((T,) tensor at ``sample_rate``, or a file) by ``seconds``.

        Returns (all of ``audio`` at 22.05 kHz mono followed by ``seconds`` of new audio,
        sample rate); ``audio``'s samples are kept exactly up to the first crossfade.
        ``audio=None`` starts from an unconditional base window (it opens the output like a
        recording would). ``include_prompt=False`` returns the new audio alone
        (``seconds`` long). ``extender`` and ``sampler`` default to the command line's
        (``conf/generate.yaml``); ``preset`` (draft, standard, best) picks the sampler as
        ``preset=`` does on the command line, and an explicit ``sampler`` wins over it.
        ``sampler_params`` and ``extender_params`` override the
        shipped YAML (e.g. ``num_steps=10``, ``xi=0.5``); ``settings`` sets any other key of
        ``conf/generate.yaml`` by its dotted name, as ``key=value`` does on the command line.

        The request goes through the same pipeline as ``python -m pianodiff.generate``
        (``generation/pipeline.py``): same checks, same seeding, same audio.
        """
        groups = {
            group: choice
            for group, choice in (("extender", extender), ("sampler", sampler), ("preset", preset))
            if isinstance(choice, str)
        }
        values: dict[str, Any] = {
            "seconds": seconds,
            "seed": seed,
            "candidates": candidates,
            "include_prompt": include_prompt,
            **(settings or {}),
        }
        if geometry is not None:
            values["geometry"] = asdict(geometry)
        params = {"extender": extender_params, "sampler": sampler_params or {}}
        cfg = generate_settings(groups, params, values)
        request = request_from_config(cfg, prompt=audio, sample_rate=sample_rate)
        if isinstance(extender, Inpainter):
            request = replace(request, extender=extender)
        if isinstance(sampler, SamplingPlan):
            request = replace(request, sampler=sampler)
        plugin = PluginList(plugins) if plugins else None
        self.last_run = generate_with(self.networks, request, plugin)
        self.last = self.last_run.long
        return self.last_run.audio, self.sample_rate

    def generate(self, seconds: float, **kwargs: Any) -> tuple[torch.Tensor, int]:
        """An unconditional base window followed by ``seconds`` of new audio."""
        return self.extend(None, seconds, **kwargs)


def setup(config: dict[str, Any]) -> tuple[Generator, torch.device]:
    """Load a model once: ``config = {"model_dir": ..., "device": None, "bf16": False}``."""
    gen = Generator.from_checkpoint(
        config["model_dir"], device=config.get("device"), bf16=config.get("bf16", False)
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
