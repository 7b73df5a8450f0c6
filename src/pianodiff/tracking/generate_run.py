"""Log a generate run to Weights & Biases (offline by default) and leave a job record.

``log_generate_run`` puts one run's audio (``wandb.Audio``), history animation
(``wandb.Video`` from the GIF file: no moviepy needed), mel spectrogram, cost and seam
figures, scalar summary and resolved config into a W&B run whose folder lies under the
output's folder (``<output dir>/wandb/offline-run-*``), never the current directory.
Offline runs need no network; upload them later with ``wandb sync <that folder>``.

Two generate plugins, built by the factories ``conf/plugins/default.yaml`` names:

* ``wandb.enabled=true`` → :class:`WandbPlugin` logs the run after the WAV is written; in a
  Hydra multirun every job lands in one group named after the sweep folder.
* under Hydra, always → :class:`JobRecordPlugin` writes ``generation.json`` (the sidecar plus
  the output and animation paths) into the Hydra job folder, which is how the multirun
  comparison (``pianodiff.tracking.comparison``) finds every job's results.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pianodiff.core.audio import atomic_path, read_audio
from pianodiff.generation.plugins import GenerationPlugin
from pianodiff.tracking.env import settle_wandb_mode

log = logging.getLogger(__name__)

JOB_RECORD = "generation.json"
DEFAULT_PROJECT = "pianodiff"


def hydra_job_info() -> tuple[Path | None, str | None]:
    """(this Hydra job's output folder, the W&B group of its sweep) or (None, None).

    The group is the sweep folder's last two parts ("2026-11-25-10-30-00"), so every job of
    a multirun — and the comparison run made at its end — share it.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    if str(hc.mode) == "RunMode.MULTIRUN":
        return out, sweep_group(hc.sweep.dir)
    return out, None


def sweep_group(sweep_dir: str | Path) -> str:
    """The W&B group name of a Hydra sweep folder (its last two path parts joined)."""
    parts = Path(sweep_dir).resolve().parts
    return "-".join(parts[-2:]) if len(parts) >= 2 else str(sweep_dir)


def init_run(
    run_root: str | Path,
    project: str = DEFAULT_PROJECT,
    group: str | None = None,
    name: str | None = None,
    job_type: str = "generate",
    config: dict[str, Any] | None = None,
    mode: str | None = None,
):
    """Start a W&B run whose folder is ``<run_root>/wandb/``; ``mode`` defaults to
    $WANDB_MODE, else "offline" (never the network unless asked for)."""
    mode = settle_wandb_mode(mode)  # before W&B starts: offline also means no telemetry
    import wandb

    run_root = Path(run_root)
    run_root.mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=project,
        group=group,
        name=name,
        job_type=job_type,
        config=config or {},
        dir=str(run_root),
        mode=mode,
        settings=wandb.Settings(console="off", silent=True),
    )


def run_folder(run) -> Path:
    """The local folder of a W&B run (``.../wandb/offline-run-<time>-<id>``)."""
    return Path(run.dir).parent


def log_generate_run(
    meta: dict[str, Any],
    config: dict[str, Any] | DictConfig | None = None,
    history_files: list[str | Path] | None = None,
    project: str = DEFAULT_PROJECT,
    group: str | None = None,
    mode: str | None = None,
    name: str | None = None,
) -> Path:
    """Log one generate run; returns the W&B run folder.

    Args:
        meta: the sidecar dict generate wrote (needs "output"; uses extender, sampler, seed,
            nfe, wall_seconds, seams_seconds, seam_scores, ... when present).
        config: the resolved run config (logged as the W&B config).
        history_files: the animation files (the GIF is logged as a video).
        group: W&B group (a multirun's jobs share one).
        mode: "offline" (default via $WANDB_MODE), "online" or "disabled".
    """
    import wandb

    from pianodiff.history.figures import cost_seam_figure, mel_figure

    output = Path(meta["output"])
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    label = name or f"{meta.get('extender', 'run')}-{meta.get('sampler', '')}-s{meta.get('seed')}"
    run = init_run(output.parent, project, group, label, "generate", config, mode)
    try:
        sr = int(meta.get("sample_rate", 22050))
        audio = read_audio(output, sr)
        stem = output.with_suffix("")
        mel_png = mel_figure(
            audio, f"{stem}.mel.png", sr, meta.get("seams_seconds"), title=output.name
        )
        cost_png = cost_seam_figure(meta, f"{stem}.cost.png")
        media: dict[str, Any] = {
            "audio": wandb.Audio(str(output), sample_rate=sr, caption=label),
            "mel": wandb.Image(str(mel_png), caption="log-mel, seams dashed"),
            "cost_and_seams": wandb.Image(str(cost_png)),
        }
        gif = next((Path(p) for p in history_files or [] if str(p).endswith(".gif")), None)
        if gif is not None and gif.is_file():
            media["history"] = wandb.Video(str(gif), format="gif", caption=label)
        run.log(media)
        run.summary.update(summary_of(meta))
        return run_folder(run)
    finally:
        run.finish()


def summary_of(meta: dict[str, Any]) -> dict[str, Any]:
    """The scalar figures of a sidecar, for W&B summaries and the comparison table."""
    scores = [s for s in meta.get("seam_scores") or [] if s is not None and s == s]
    keys = (
        "extender", "sampler", "seed", "nfe", "nfe_per_window", "wall_seconds",
        "real_time_factor", "network_audio_seconds_per_output_second", "duration_seconds",
    )  # fmt: skip
    out = {k: meta[k] for k in keys if k in meta}
    out["seam_score_mean"] = sum(scores) / len(scores) if scores else float("nan")
    out["seam_score_max"] = max(scores) if scores else float("nan")
    return out


def write_job_record(meta: dict[str, Any], folder: str | Path, extra: dict | None = None) -> Path:
    """Write ``<folder>/generation.json``: the sidecar plus output/animation/W&B paths."""
    path = Path(folder) / JOB_RECORD
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({**meta, **(extra or {})}, indent=2, default=str))
    return path


class WandbPlugin(GenerationPlugin):
    """Log the finished run to W&B (after the history plugin has written its GIF)."""

    def __init__(self, project: str, mode: str | None, group: str | None):
        self.project, self.mode, self.group = project, mode, group
        self.run_dir: Path | None = None

    def after_write(self, result: Any) -> None:
        self.run_dir = log_generate_run(
            result.meta,
            result.config,
            result.meta.get("history_files"),
            self.project,
            self.group,
            self.mode,
        )
        result.meta["wandb_run_dir"] = str(self.run_dir)
        log.info("wandb: logged %s to %s", result.output.name, self.run_dir)


class JobRecordPlugin(GenerationPlugin):
    """Leave ``generation.json`` in the Hydra job folder (runs after the W&B plugin)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def after_write(self, result: Any) -> None:
        extra = {"sidecar": str(result.sidecar), "job_dir": str(self.folder)}
        write_job_record(result.meta, self.folder, extra)


def wandb_plugin(cfg: Any) -> WandbPlugin | None:
    """The W&B plugin when ``cfg.wandb.enabled`` is true."""
    opt = cfg.get("wandb") if hasattr(cfg, "get") else None
    if not opt or not opt.get("enabled", False):
        return None
    _, sweep = hydra_job_info()
    group = opt.get("group") or sweep
    return WandbPlugin(str(opt.get("project", DEFAULT_PROJECT)), opt.get("mode"), group)


def job_record_plugin(cfg: Any) -> JobRecordPlugin | None:
    """The job record plugin whenever generate runs under Hydra."""
    folder, _ = hydra_job_info()
    return None if folder is None else JobRecordPlugin(folder)


# -- reading an offline run back (tests, and checking a run before `wandb sync`) ------------
_BLOCK = 32768  # the .wandb file is a LevelDB-style log: 32 KiB blocks of framed records
_FILE_HEADER = 7  # ":W&B" + magic 0xBEE1 + version byte
_RECORD_HEADER = 7  # crc32 (4) + length (2, little-endian) + type (1: full, 2-4: parts)


def read_offline_records(run_dir: str | Path) -> list[Any]:
    """The protobuf records (``wandb_internal_pb2.Record``) of an offline run folder's
    ``run-*.wandb`` file, in order; e.g. ``r.run.run_group`` or ``r.history.item``."""
    from wandb.proto import wandb_internal_pb2

    (path,) = Path(run_dir).glob("run-*.wandb")
    raw = path.read_bytes()
    if raw[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    records, pos, parts = [], _FILE_HEADER, b""
    while pos + _RECORD_HEADER <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _RECORD_HEADER:  # block trailer: zero padding
            pos += left
            continue
        length = int.from_bytes(raw[pos + 4 : pos + 6], "little")
        kind = raw[pos + 6]
        if kind == 0 and length == 0:  # zero fill
            pos += left
            continue
        parts += raw[pos + _RECORD_HEADER : pos + _RECORD_HEADER + length]
        pos += _RECORD_HEADER + length
        if kind in (1, 4):  # a full record, or the last part of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
    return records
