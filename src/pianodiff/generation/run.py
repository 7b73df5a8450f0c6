"""run_generation(cfg): a composed ``conf/generate.yaml`` in, a WAV + JSON sidecar out.

The WAV is the prompt (the whole ground file, or the unconditional base window) followed by
``seconds`` of new audio; ``include_prompt=false`` writes the new audio alone.

Every check that can fail on the user's input (seconds, checkpoint, ground file, output
path) runs before any sampling, so a bad request costs nothing and leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pianodiff import SAMPLE_RATE, __version__
from pianodiff.checkpoint.export import load_export
from pianodiff.core.audio import atomic_path, write_audio
from pianodiff.generation.configs import plan_from_config
from pianodiff.generation.cost import steady_state_cost
from pianodiff.generation.device import make_denoiser, pick_device
from pianodiff.generation.engine import LongAudio, WindowedGenerator, prompt_tail_seconds
from pianodiff.generation.errors import GenerationError
from pianodiff.generation.geometry import Geometry
from pianodiff.generation.ground import load_ground
from pianodiff.generation.paths import (
    check_output,
    default_output,
    resolve_checkpoint,
    sidecar_path,
)
from pianodiff.generation.plugins import GenerationPlugin, PluginList, build_plugins
from pianodiff.generation.progress import ProgressBar
from pianodiff.generation.values import (
    check_candidates,
    check_flag,
    check_seed,
    check_switches,
)

MAX_SECONDS = 3600.0


@dataclass
class GenerationResult:
    """What a run produced: the audio (T,), where it went and its sidecar's contents."""

    audio: torch.Tensor
    sample_rate: int
    output: Path
    sidecar: Path
    meta: dict[str, Any]
    config: DictConfig | None = None
    long: LongAudio | None = field(default=None, repr=False)


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


def run_generation(
    cfg: DictConfig, plugins: list[GenerationPlugin] | None = None
) -> GenerationResult:
    """Generate audio as ``cfg`` (conf/generate.yaml) says and write it with its sidecar."""
    seconds = check_seconds(cfg.seconds)
    candidates = check_candidates(cfg.candidates)
    overwrite = check_flag("overwrite", cfg.overwrite)
    bf16, compile_net = check_flag("bf16", cfg.bf16), check_flag("compile", cfg.compile)
    include_prompt = check_flag("include_prompt", cfg.get("include_prompt", True))
    seed = check_seed(cfg.seed)
    check_switches(cfg)
    geometry = Geometry(**OmegaConf.to_container(cfg.geometry, resolve=True))
    inpainter = instantiate(cfg.extender)
    checkpoint = resolve_checkpoint(cfg.checkpoint)
    device = pick_device(cfg.device)
    # The whole recording goes into the output; without it (include_prompt=false) only the
    # tail that conditions the model and ranks the seams needs decoding.
    tail = None if include_prompt else prompt_tail_seconds(geometry)
    ground = (
        load_ground(cfg.ground_file, SAMPLE_RATE, tail, end_seconds=geometry.window_seconds)
        if cfg.ground_file
        else None
    )
    model = load_export(checkpoint, device)
    plan = plan_from_config(cfg.sampler, model.schedule)
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
    output = Path(cfg.output) if cfg.output else default_output(inpainter.name, plan.name, seed)
    check_output(output, overwrite)

    hooks = PluginList([*(plugins or []), *build_plugins(cfg)])
    if cfg.get("progress", True):
        hooks.plugins.append(ProgressBar())
    generator = torch.Generator(device=device).manual_seed(seed)
    engine = WindowedGenerator(
        make_denoiser(model.net, bf16, compile_net),
        inpainter,
        plan,
        geometry,
        generator=generator,
        candidates=candidates,
        plugin=hooks,
    )
    try:
        start = time.perf_counter()
        with torch.no_grad():  # not inference_mode: guidance needs autograd locally
            long = engine.generate(seconds, ground, include_prompt=include_prompt)
        wall = time.perf_counter() - start
        audio = long.audio.float().cpu()
        if not bool(torch.isfinite(audio).all()):
            raise GenerationError("the model produced NaN/inf audio; check the checkpoint")
        meta = _sidecar(cfg, checkpoint, inpainter, plan, geometry, seed, long, wall, output)
        meta["device"] = str(device)
        sidecar = sidecar_path(output)
        if sidecar.exists() and not overwrite:  # appeared while sampling
            raise FileExistsError(f"{sidecar} exists; pass overwrite=true to replace it")
        with atomic_path(sidecar) as tmp:  # the JSON lands only if the audio did
            tmp.write_text(json.dumps(meta, indent=2))
            write_audio(output, audio, SAMPLE_RATE, overwrite=overwrite)
        result = GenerationResult(audio, SAMPLE_RATE, output, sidecar, meta, cfg, long)
        hooks.after_write(result)
        return result
    finally:
        hooks.close()


def _sidecar(cfg, checkpoint, inpainter, plan, geometry, seed, long, wall, output) -> dict:
    sr = SAMPLE_RATE
    cost = long.cost.summary()
    candidates = int(cfg.candidates)
    nfe_walk = inpainter.nfe(plan)
    nfe_window = nfe_walk * candidates
    duration = len(long.audio) / sr
    configured = OmegaConf.to_container(cfg.extender, resolve=True)
    return {
        "output": str(output),
        "pianodiff_version": __version__,
        "checkpoint": str(checkpoint),
        "extender": inpainter.name,
        # what the walk ran with (e.g. RePaint's jump length clamped on a short plan) ...
        "extender_params": {
            **{k: v for k, v in configured.items() if not k.startswith("_")},
            **inpainter.effective_params(plan),
        },
        # ... and what was asked for
        "extender_config": configured,
        "keeps_known_exactly": inpainter.keeps_known_exactly,
        "sampler": plan.name,
        "sampler_params": OmegaConf.to_container(cfg.sampler, resolve=True),
        "plan_levels": plan.num_levels,
        "seed": seed,
        "seconds": float(cfg.seconds),
        "ground_file": str(cfg.ground_file) if cfg.ground_file else None,
        "prompt_seconds": long.prompt_samples / sr,
        "include_prompt": bool(cfg.get("include_prompt", True)),
        "candidates": candidates,
        "bf16": bool(cfg.bf16),
        "geometry": OmegaConf.to_container(cfg.geometry, resolve=True),
        "sample_rate": sr,
        "base_seconds": long.base_samples / sr,
        "duration_seconds": duration,
        # cost: every network evaluation made, each of the candidates counted
        "nfe": cost["nfe"],
        "nfe_per_walk": nfe_walk,
        "nfe_per_window": nfe_window,
        "forward_equivalents": cost["forward_equivalents"],
        "network_audio_seconds": cost["network_audio_seconds"],
        "network_audio_seconds_per_output_second": cost["network_audio_seconds_per_output_second"],
        "steady_state_cost": steady_state_cost(
            nfe_window, geometry.window_seconds, geometry.new_seconds
        ),
        "wall_seconds": wall,
        "real_time_factor": wall / max(cost["new_seconds"], 1e-9),
        "seams_samples": long.seams,
        "seams_seconds": [s / sr for s in long.seams],
        "seam_scores": [v if math.isfinite(v) else None for v in long.seam_scores],
    }
