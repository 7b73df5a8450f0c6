"""What the page does, without the page: continue a recording, compare extenders.

Each request becomes a composed ``conf/generate.yaml`` (``generation.configs.
generate_settings``: group choices, then plain values) and runs through
``generation/run.run_generation`` with the one loaded model, so the page, the command line
and the API make the same audio from the same settings. One generation runs at a time per
process (a lock; the page's queue keeps the rest waiting); every file lands atomically
under one outputs folder, under a new name, so nothing is ever overwritten.

    studio = Studio(StudioOptions(models=Path("checkpoints")))
    done = studio.continue_recording(Settings("repaint", seconds=10), "prompt.wav")
    done.result.output      # outputs/app/<time>_repaint_<sampler>_seed0.wav (+ .json)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from pianodiff import SAMPLE_RATE
from pianodiff.app.errors import AppError, GenerationCancelled
from pianodiff.app.figures import result_figure
from pianodiff.app.limits import Limits, check_prompt_file, check_request
from pianodiff.app.models import ModelCache, default_models_folder, list_exports
from pianodiff.app.progress import PageProgress, Report
from pianodiff.checkpoint.export import LoadedModel
from pianodiff.conf import group_choices, primary_defaults
from pianodiff.core.audio import atomic_path, write_audio
from pianodiff.core.errors import USER_ERRORS
from pianodiff.generation.configs import generate_settings
from pianodiff.generation.paths import default_output
from pianodiff.generation.pipeline import draw_seed
from pianodiff.generation.run import GenerationResult, run_generation
from pianodiff.history.panel import comparison_panel
from pianodiff.measures import notes
from pianodiff.measures.seam import seam_scores
from pianodiff.tracking.comparison import PANEL_FILE, ROWS_FILE, row_of

DEFAULT_OUTPUTS = Path("outputs") / "app"
HISTORY = {"frames": 48, "fps": 8.0, "mp4": False}  # the page shows the GIF
TABLE_HEADERS = [
    "extender", "sampler", "seam score", "seam max", "note frames", "NFE",
    "net-audio-s / s", "wall s",
]  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """One request in the page's words (None: the config's default).

    Attributes:
        extender: a ``conf/extender`` option.
        seconds: new audio after the prompt (or after the base window).
        seed: None draws one (recorded in the sidecar).
        candidates: continuations per window; the best seam is kept.
        sampler: a ``conf/sampler`` option; it wins over the preset.
        preset: a ``conf/preset`` option, where that group exists.
        steps: the sampler's ``num_steps``, for samplers that have one.
        harmony: ``harmony.strength`` (prompt following), where generate.yaml has it.
        history: also render the diffusion-history animation.
    """

    extender: str
    seconds: float = 10.0
    seed: int | None = 0
    candidates: int = 1
    sampler: str | None = None
    preset: str | None = None
    steps: int | None = None
    harmony: float | None = None
    history: bool = False


@dataclass
class StudioOptions:
    """Where the page reads models and writes outputs, its limits and fixed settings.

    Attributes:
        models: folder whose export subfolders the model list shows.
        model: the export selected at start (None: the first listed).
        outputs: the one folder every result is written under.
        limits: upload and request caps.
        device: ``auto``, ``cpu`` or ``cuda``.
        values: generate.yaml keys set on every request (``--set key=value``), e.g.
            ``{"geometry.window_seconds": 2.5, "bf16": True}``.
    """

    models: Path = field(default_factory=default_models_folder)
    model: Path | None = None
    outputs: Path = DEFAULT_OUTPUTS
    limits: Limits = field(default_factory=Limits)
    device: str = "auto"
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Continued:
    """A finished continuation: the run's result and the page's extra files."""

    result: GenerationResult
    new_audio: Path  # the new audio alone (after the prompt or the base window)
    figure: Path  # spectrogram with seams + chromagram
    history: Path | None  # the diffusion-history GIF, when asked for
    seam_scores: list[float]  # each seam scored on the whole output (as the comparison)

    @property
    def files(self) -> list[Path]:
        """The downloads: the WAV and its JSON sidecar."""
        return [self.result.output, self.result.sidecar]

    def summary(self) -> str:
        meta = self.result.meta
        scores = [s for s in self.seam_scores if math.isfinite(s)]
        seam = f"{sum(scores) / len(scores):.2f}" if scores else "n/a"
        return (
            f"{meta['duration_seconds']:.2f} s written ({meta['prompt_seconds']:.2f} s prompt"
            f" + {meta['seconds']:g} s new) · {meta['extender']} · {meta['sampler']} · seed "
            f"{meta['seed']} · {meta['nfe']} network calls · {meta['wall_seconds']:.1f} s wall"
            f" · mean seam score {seam} · {self.result.output}"
        )


@dataclass
class Comparison:
    """Several extenders on one prompt and one seed."""

    folder: Path
    results: dict[str, GenerationResult]
    rows: list[dict[str, Any]]
    panel: Path

    def table(self) -> list[list[Any]]:
        """One row per extender, in the order of :data:`TABLE_HEADERS`."""
        out = []
        for r in self.rows:
            frames = r.get("note_frames")
            out.append(
                [
                    r["extender"],
                    r["sampler"],
                    round(r["seam_score"], 3),
                    round(r["seam_score_max"], 3),
                    "n/a" if frames is None else round(frames, 3),
                    r["nfe"],
                    round(r["net_audio_s_per_s"], 2),
                    round(r["wall_seconds"], 2),
                ]
            )
        return out


class Studio:
    """Runs the page's requests, one at a time, with one model loaded."""

    def __init__(self, options: StudioOptions | None = None):
        self.options = options or StudioOptions()
        self.models = ModelCache(self.options.device)
        self._busy = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}

    # -- what the page offers ---------------------------------------------------------------
    def model_choices(self) -> list[str]:
        """The export folders to pick from: those in ``options.models`` and ``options.model``."""
        found = [str(p) for p in list_exports(self.options.models)]
        chosen = self.options.model
        if chosen is not None and str(chosen) not in found:
            found.insert(0, str(chosen))
        return found

    @staticmethod
    def choices(group: str) -> list[str]:
        """The options of a config group (``extender``, ``sampler``, ``preset``)."""
        return group_choices(group)

    @staticmethod
    def defaults() -> dict[str, str]:
        """generate.yaml's group picks, e.g. ``{"extender": "interpolation", ...}``."""
        return primary_defaults("generate")

    @staticmethod
    def has_presets() -> bool:
        """Whether generate.yaml picks a sampler preset (the ``preset`` group)."""
        return "preset" in primary_defaults("generate") and bool(group_choices("preset"))

    @staticmethod
    def harmony_default() -> float | None:
        """generate.yaml's ``harmony.strength``, or None where it has no harmony option."""
        cfg = generate_settings()
        harmony = cfg.get("harmony")
        if harmony is None or "strength" not in harmony:
            return None
        return float(harmony.strength)

    # -- cancel -------------------------------------------------------------------------------
    def cancel_flag(self, session: str) -> threading.Event:
        """The Cancel flag of a browser session: cleared when a request ends, and by the page
        when Generate or Compare is pressed (so an old Cancel stops nothing new)."""
        return self._cancels.setdefault(session, threading.Event())

    def cancel(self, session: str) -> None:
        """Stop the session's generation at its next step (or at its first, if it waits)."""
        self.cancel_flag(session).set()

    @contextmanager
    def _cancellable(self, session: str) -> Iterator[threading.Event]:
        """The session's flag for one request, cleared when the request ends (not when it
        starts: a Cancel pressed while it waited in the queue still stops it)."""
        flag = self.cancel_flag(session)
        try:
            yield flag
        finally:
            flag.clear()

    # -- requests -----------------------------------------------------------------------------
    def config(self, settings: Settings, prompt: Path | None, output: Path) -> DictConfig:
        """The composed generate config of one request (the same as the command line's)."""
        groups = {"extender": settings.extender}
        if settings.preset and self.has_presets():
            groups["preset"] = settings.preset
        if settings.sampler:
            groups["sampler"] = settings.sampler
        values: dict[str, Any] = {
            **self.options.values,
            "seconds": settings.seconds,
            "seed": settings.seed,
            "candidates": settings.candidates,
            "prompt": str(prompt) if prompt is not None else None,
            "ground_file": None,
            "output": str(output),
            "overwrite": False,
            "progress": False,
            "wandb.enabled": False,
            "history": dict(HISTORY) if settings.history else False,
        }
        if settings.harmony is not None:
            if self.harmony_default() is None:
                raise AppError("this version has no harmony option; leave the strength empty")
            values["harmony.strength"] = settings.harmony
        cfg = generate_settings(groups, None, values)
        if settings.steps:
            if "num_steps" not in cfg.sampler:
                name = settings.sampler or "the preset's sampler"
                raise AppError(
                    f"{name} takes no step count (it walks its own levels); set steps to 0"
                )
            cfg.sampler.num_steps = settings.steps
        return cfg

    def continue_recording(
        self,
        settings: Settings,
        prompt: str | Path | None = None,
        prompt_name: str | None = None,
        model: str | Path | None = None,
        report: Report | None = None,
        session: str = "",
    ) -> Continued:
        """Continue ``prompt`` (a sound file; None: from an unconditional base window)."""
        with self._busy, self._cancellable(session) as cancel:
            prompt_path = self._check(settings, prompt, prompt_name)
            loaded = self._model(model)
            seed = draw_seed() if settings.seed is None else settings.seed
            settings = _with(settings, seed=seed)
            label = settings.sampler or settings.preset or self.defaults().get("sampler", "")
            output = default_output(settings.extender, label, seed, self.options.outputs)
            cfg = self.config(settings, prompt_path, output)
            plugin = PageProgress(report, cancel)
            result = self._run(cfg, plugin, loaded, prompt_path, prompt_name)
            return self._finish(result)

    def compare(
        self,
        extenders: list[str],
        settings: Settings,
        prompt: str | Path | None = None,
        prompt_name: str | None = None,
        model: str | Path | None = None,
        report: Report | None = None,
        session: str = "",
    ) -> Comparison:
        """Run one prompt and one seed through each of ``extenders`` and compare them.

        The rows are the comparison of a multirun (``tracking/comparison.row_of``: seam
        score mean and max over each whole output, NFE, wall time) plus the note frames of
        the new audio when the notes extra is installed; the panel is the multirun's
        ``comparison.png``.
        """
        if not extenders:
            raise AppError("pick at least one extender to compare")
        unknown = [e for e in extenders if e not in group_choices("extender")]
        if unknown:
            choices = ", ".join(group_choices("extender"))
            raise AppError(f"unknown extender {unknown[0]}; choose from {choices}")
        with self._busy, self._cancellable(session) as cancel:
            prompt_path = self._check(settings, prompt, prompt_name)
            loaded = self._model(model)
            seed = draw_seed() if settings.seed is None else settings.seed
            folder = _new_folder(self.options.outputs, f"compare_seed{seed}")
            results: dict[str, GenerationResult] = {}
            rows = []
            names = list(dict.fromkeys(extenders))
            try:
                for i, name in enumerate(names):
                    one = _with(settings, extender=name, seed=seed)
                    cfg = self.config(one, prompt_path, folder / f"{name}.wav")
                    span = (i / len(names), (i + 1) / len(names))
                    plugin = PageProgress(report, cancel, span, label=name)
                    result = self._run(cfg, plugin, loaded, prompt_path, prompt_name)
                    results[name] = result
                    rows.append(self._row(result, folder))
            finally:
                if not any(folder.iterdir()):  # refused or cancelled before any file
                    folder.rmdir()
            with atomic_path(folder / ROWS_FILE) as tmp:
                tmp.write_text(json.dumps(rows, indent=2))
            panel = comparison_panel(rows, folder / PANEL_FILE)
            return Comparison(folder, results, rows, panel)

    # -- parts --------------------------------------------------------------------------------
    def _check(self, settings: Settings, prompt: str | Path | None, name: str | None):
        check_request(settings.seconds, settings.candidates, self.options.limits)
        if prompt is None or str(prompt) == "":
            return None
        check_prompt_file(prompt, self.options.limits, name)
        return Path(prompt)

    def _model(self, model: str | Path | None) -> LoadedModel:
        folder = model or self.options.model or next(iter(self.model_choices()), None)
        if not folder:
            raise AppError(
                f"no model: {self.options.models} holds no export folder; pass --model "
                "<export folder> or --models <folder of exports>"
            )
        return self.models.get(folder)

    def _run(
        self,
        cfg: DictConfig,
        plugin: PageProgress,
        model: LoadedModel,
        prompt: Path | None,
        prompt_name: str | None,
    ) -> GenerationResult:
        try:
            return run_generation(cfg, plugins=[plugin], model=model)
        except GenerationCancelled:
            raise
        except USER_ERRORS as err:
            message = str(err)
            if prompt is not None and prompt_name:  # the user's name, not the server's path
                message = message.replace(str(prompt), prompt_name)
            raise AppError(message) from err

    def _finish(self, result: GenerationResult) -> Continued:
        meta, output = result.meta, result.output
        start = round(meta["prompt_seconds"] * SAMPLE_RATE) if meta["include_prompt"] else 0
        new = write_audio(
            output.with_suffix(".new.wav"), result.audio[start:], SAMPLE_RATE, overwrite=False
        )
        title = f"{meta['extender']} · {meta['sampler']} · seed {meta['seed']}"
        figure = result_figure(
            result.audio,
            output.with_suffix(".png"),
            meta["seams_seconds"],
            meta["prompt_seconds"] if meta["include_prompt"] and meta["prompt"] else 0.0,
            title,
        )
        gifs = [Path(p) for p in meta.get("history_files") or [] if str(p).endswith(".gif")]
        scores = seam_scores(result.audio, meta["seams_samples"]) if meta["seams_samples"] else []
        return Continued(result, new, figure, gifs[0] if gifs else None, scores)

    @staticmethod
    def _row(result: GenerationResult, folder: Path) -> dict[str, Any]:
        row = row_of({**result.meta, "job_dir": str(folder)})
        row["note_frames"] = None
        if notes.unavailable_reason() is None:
            meta = result.meta
            start = round(meta["prompt_seconds"] * SAMPLE_RATE) if meta["include_prompt"] else 0
            new = result.audio[start:]
            if new.numel() > 0:
                row["note_frames"] = notes.note_measures(new).note_frames
        return row


def _with(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)


def _new_folder(parent: Path, stem: str) -> Path:
    """A new folder ``<parent>/<time>_<stem>[-n]``, never one that exists."""
    parent.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}_{stem}"
    for n in range(1000):
        folder = parent / (base if n == 0 else f"{base}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AppError(f"cannot make a new folder under {parent}; clear out old comparisons")
