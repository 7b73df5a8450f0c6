"""Log an evaluate run to Weights & Biases (offline by default): the rows, the summary and
the plots of ``evaluation/report.py`` in one run."""

from __future__ import annotations

from pathlib import Path

from pianodiff.tracking.env import settle_wandb_mode


def log_to_wandb(rows, summary, images, run_dir: Path, project: str, mode: str, config: dict):
    """One W&B run (offline by default) with the rows table, summary figures and plots."""
    mode = settle_wandb_mode(mode)  # before W&B starts: offline also means no telemetry
    import wandb

    run = wandb.init(project=project, mode=mode, dir=str(run_dir), config=config, job_type="eval")
    try:
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        table = wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])
        flat = {f"{e}/{s}/{k}": v for (e, s), d in summary.items() for k, v in d.items()}
        run.log({"cases": table, **flat, **{p.stem: wandb.Image(str(p)) for p in images}})
    finally:
        run.finish()
