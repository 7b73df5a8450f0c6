"""run_generation(cfg): a composed ``conf/generate.yaml`` in, a WAV + JSON sidecar out.

The WAV is the prompt (the whole prompt file, or the unconditional base window) followed by
``seconds`` of new audio; ``include_prompt=false`` writes the new audio alone. The audio
itself comes from the one pipeline, ``generation/pipeline.py``; this module adds the files.

Every check that can fail on the user's input (seconds, checkpoint, prompt file, output
path) runs before any sampling, so a bad request costs nothing and leaves nothing behind.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from pianodiff import SAMPLE_RATE, __version__
from pianodiff.checkpoint.export import LoadedModel, load_export
from pianodiff.core.audio import atomic_path, write_audio
from pianodiff.generation.cost import steady_state_cost
from pianodiff.generation.device import pick_device
from pianodiff.generation.engine import LongAudio
from pianodiff.generation.paths import (
    check_output,
    default_output,
    resolve_checkpoint,
    sidecar_path,
)
from pianodiff.generation.pipeline import (
    Generated,
    generate_with,
    make_denoiser,
    request_from_config,
)
from pianodiff.generation.plugins import GenerationPlugin, PluginList, build_plugins
from pianodiff.generation.students import Networks, fit_to_model
from pianodiff.generation.values import check_flag, check_switches


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


def run_generation(
    cfg: DictConfig,
    plugins: list[GenerationPlugin] | None = None,
    model: LoadedModel | None = None,
) -> GenerationResult:
    """Generate audio as ``cfg`` (conf/generate.yaml) says and write it with its sidecar.

    ``model``: an export already loaded (the web page keeps one); None loads
    ``cfg.checkpoint``. The audio comes from :func:`pipeline.generate_with`, the one pipeline.
    """
    overwrite = check_flag("overwrite", cfg.overwrite)
    compile_net = check_flag("compile", cfg.compile)  # bf16 (auto/true/false): the request
    check_switches(cfg)
    request = request_from_config(cfg)  # every value checked, the prompt read
    if model is None:
        checkpoint = resolve_checkpoint(cfg.checkpoint)
        model = load_export(checkpoint, pick_device(cfg.device))
    else:
        checkpoint = Path(model.path)
    request = fit_to_model(request, model)  # a preset's restart walk needs a student
    plan = request.plan(model.schedule)
    name = request.extender.name
    output = Path(cfg.output) if cfg.output else default_output(name, plan.name, request.seed)
    check_output(output, overwrite)

    hooks = PluginList([*(plugins or []), *build_plugins(cfg)])
    try:
        networks = Networks(
            model, lambda net, schedule: make_denoiser(net, schedule, request.bf16, compile_net)
        )
        done = generate_with(networks, request, hooks)
        meta = _sidecar(cfg, checkpoint, done, output)
        meta["device"] = str(next(model.net.parameters()).device)
        sidecar = sidecar_path(output)
        if sidecar.exists() and not overwrite:  # appeared while sampling
            raise FileExistsError(f"{sidecar} exists; pass overwrite=true to replace it")
        with atomic_path(sidecar) as tmp:  # the JSON lands only if the audio did
            tmp.write_text(json.dumps(meta, indent=2))
            write_audio(output, done.audio, SAMPLE_RATE, overwrite=overwrite)
        result = GenerationResult(done.audio, SAMPLE_RATE, output, sidecar, meta, cfg, done.long)
        hooks.after_write(result)
        return result
    finally:
        hooks.close()


def _sidecar(cfg: DictConfig, checkpoint: Path, done: Generated, output: Path) -> dict:
    sr = SAMPLE_RATE
    request, long, plan, inpainter = done.request, done.long, done.plan, done.request.extender
    geometry, wall = request.geometry, done.wall_seconds
    cost = long.cost.summary()
    candidates = request.candidates
    nfe_walk = inpainter.nfe(plan) * done.calls_per_estimate  # 2 with profile guidance
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
        "seed": request.seed,
        "seconds": request.seconds,
        "prompt": request.prompt_name,
        "ground_file": request.prompt_name,  # the older name of "prompt", kept for readers
        "prompt_seconds": long.prompt_samples / sr,
        "include_prompt": request.include_prompt,
        "candidates": candidates,
        # the preset and the sampler it selects, bf16 and why (auto: measured or cached)
        **done.choices(),
        "geometry": asdict(geometry),
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
        # pitch-profile conditioning: its settings, and the profile size that ran (if any)
        "pitch_profile": done.pitch_profile or done.request.pitch_profile.record(),
    }
