"""Compare the extenders of a Hydra multirun: a local PNG panel and a W&B table.

    python -m pianodiff.generate -m extender=interpolation,repaint,replacement,guidance \\
        history=true

With ``CompareExtenders`` in ``hydra.callbacks`` (conf/generate.yaml, or on the command
line ``++hydra.callbacks.compare._target_=pianodiff.tracking.comparison.CompareExtenders``),
the end of the multirun reads every job's ``generation.json`` (written by the job record
plugin of ``pianodiff.tracking.generate_run`` into the job folder) and writes into the sweep folder

    comparison.png    one column per job: a mid-walk frame of its first extension window's
                      history (where extenders differ; the known region shaded) and the
                      mel spectrogram of its output with the seams marked
    comparison.json   the table rows (extender, sampler, NFE, wall time, seam score, paths)

and logs a W&B run named "comparison" in the sweep's group (the jobs' own runs share the
group when ``wandb.enabled=true``) with a table: a row per job with its audio and animation.
The seam score is recomputed on each whole output with ``measures.seam`` (mean and max
over its seams; the median frame change of the whole output is the reference).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pianodiff.core.audio import atomic_path, read_audio
from pianodiff.history.renderer import history_path
from pianodiff.measures.seam import seam_scores
from pianodiff.tracking.generate_run import (
    DEFAULT_PROJECT,
    JOB_RECORD,
    init_run,
    run_folder,
    sweep_group,
)

log = logging.getLogger(__name__)

PANEL_FILE = "comparison.png"
ROWS_FILE = "comparison.json"
TABLE_COLUMNS = [
    "extender", "sampler", "audio", "animation", "nfe", "wall_seconds", "seam_score",
    "seam_score_max", "net_audio_s_per_s", "seed", "job",
]  # fmt: skip


def _job_key(record: Path) -> tuple[int, str]:
    """Sort jobs by their Hydra job number (the folder name), then by path."""
    name = record.parent.name
    return (int(name) if name.isdigit() else 1 << 30, str(record))


def load_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Every job record (``generation.json``) under ``sweep_dir``, in job order."""
    records = sorted(Path(sweep_dir).rglob(JOB_RECORD), key=_job_key)
    return [json.loads(p.read_text()) | {"job_dir": str(p.parent)} for p in records]


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """One comparison row from a job record (reads the output WAV for the seam score)."""
    output = Path(record["output"])
    sr = int(record.get("sample_rate", 22050))
    seams = [int(s) for s in record.get("seams_samples") or []]
    scores = seam_scores(read_audio(output, sr), seams, sr) if seams else []
    finite = [s for s in scores if math.isfinite(s)]
    gifs = [p for p in record.get("history_files") or [] if str(p).endswith(".gif")]
    gif = Path(gifs[0]) if gifs else history_path(output, "gif")
    frame, frame_label = extension_frame(record.get("history_windows") or [])
    return {
        "extender": record.get("extender", "?"),
        "sampler": record.get("sampler", "?"),
        "nfe": int(record.get("nfe", 0)),
        "wall_seconds": float(record.get("wall_seconds", float("nan"))),
        "seam_score": sum(finite) / len(finite) if finite else float("nan"),
        "seam_score_max": max(finite) if finite else float("nan"),
        "net_audio_s_per_s": float(
            record.get("network_audio_seconds_per_output_second", float("nan"))
        ),
        "seed": record.get("seed"),
        "job": Path(record["job_dir"]).name,
        "output": str(output),
        "history_gif": str(gif) if gif.is_file() else None,
        "history_frame": frame,
        "history_frame_label": frame_label,
        "seams_seconds": [s / sr for s in seams],
        "sample_rate": sr,
    }


def extension_frame(windows: list[dict[str, Any]]) -> tuple[int | None, str]:
    """(animation frame, caption) of the middle of the first extension window's walk.

    The base window is the same plain walk for every extender, so a frame of it would show
    nothing that differs; (None, "mid-walk") when the record names no extension window.
    """
    for w in windows:
        if w.get("kind") == "extend" and w.get("frames"):
            first, last = (int(v) for v in w["frames"])
            return (first + last) // 2, f"{w.get('label') or 'extension window'}, mid-walk"
    return None, "mid-walk"


def compare_runs(sweep_dir: str | Path) -> tuple[list[dict[str, Any]], Path | None]:
    """Rows (one per job) and the panel PNG of a finished multirun; (rows, None) if empty.

    Also writes ``<sweep_dir>/comparison.json`` with the rows.
    """
    from pianodiff.history.panel import comparison_panel

    sweep_dir = Path(sweep_dir)
    rows = [row_of(r) for r in load_jobs(sweep_dir)]
    if not rows:
        log.info("comparison: no %s under %s; nothing to compare", JOB_RECORD, sweep_dir)
        return rows, None
    with atomic_path(sweep_dir / ROWS_FILE) as tmp:
        tmp.write_text(json.dumps(rows, indent=2))
    panel = comparison_panel(rows, sweep_dir / PANEL_FILE)
    return rows, panel


def log_comparison(
    rows: list[dict[str, Any]],
    panel: Path | None,
    sweep_dir: str | Path,
    project: str = DEFAULT_PROJECT,
    group: str | None = None,
    mode: str | None = None,
) -> Path:
    """Log the comparison table (+ panel) as the W&B run "comparison"; returns its folder."""
    import wandb

    group = group or sweep_group(sweep_dir)
    run = init_run(sweep_dir, project, group, "comparison", "comparison", {"jobs": len(rows)}, mode)
    try:
        table = wandb.Table(columns=TABLE_COLUMNS)
        for r in rows:
            gif = r["history_gif"]
            table.add_data(
                r["extender"], r["sampler"],
                wandb.Audio(r["output"], sample_rate=r["sample_rate"], caption=r["extender"]),
                wandb.Video(gif, format="gif") if gif else None,
                r["nfe"], r["wall_seconds"], r["seam_score"], r["seam_score_max"],
                r["net_audio_s_per_s"], r["seed"], r["job"],
            )  # fmt: skip
        media: dict[str, Any] = {"comparison": table}
        if panel is not None:
            media["comparison_panel"] = wandb.Image(str(panel))
        run.log(media)
        return run_folder(run)
    finally:
        run.finish()


class CompareExtenders(Callback):
    """Hydra callback: at the end of a multirun, compare its jobs (panel + W&B table).

    Args:
        wandb: also log the table to W&B (offline unless ``mode``/$WANDB_MODE says online).
        project: the W&B project.
        mode: W&B mode; None = $WANDB_MODE, else "offline".
    """

    def __init__(self, wandb: bool = True, project: str = DEFAULT_PROJECT, mode: str | None = None):
        self.wandb, self.project, self.mode = wandb, project, mode

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows, panel = compare_runs(sweep_dir)
        if panel is not None:
            log.info("comparison: wrote %s", panel)
        if self.wandb and rows:
            wb = config.get("wandb") or {}  # the jobs' own W&B settings, when generate has them
            mode = self.mode or wb.get("mode")
            project = wb.get("project") or self.project
            folder = log_comparison(rows, panel, sweep_dir, project, None, mode)
            log.info("comparison: W&B run in %s (upload: wandb sync %s)", folder, folder)
