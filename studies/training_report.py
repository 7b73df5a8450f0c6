"""Figures and numbers of a training run and its export (README and studies/training-history.md).

    python -m studies.training_report --run outputs/piano14_cpu/<run> \
        --export checkpoints/piano14-small --out docs/img

Writes ``loss_curve.png`` (train loss per t-bucket and validation loss from the run's
offline W&B records), ``spectrograms.png`` (unconditional samples beside real held-out
piano) and prints held-out losses beside the predict-zero and Wiener references, and the
tonality, onset rate and (with the notes extra) note measures of the samples and of real piano.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from pianodiff import SAMPLE_RATE  # noqa: E402
from pianodiff.checkpoint.export import CheckpointError, load_export  # noqa: E402
from pianodiff.core.audio import log_mel, read_audio  # noqa: E402
from pianodiff.data.dataset import find_audio_files  # noqa: E402
from pianodiff.evaluation.reference_loss import (  # noqa: E402
    average_power_spectrum,
    held_out_losses,
)
from pianodiff.generation.configs import build_plan  # noqa: E402
from pianodiff.measures.listening import sample_measures  # noqa: E402
from pianodiff.tracking.generate_run import read_offline_records  # noqa: E402
from studies.training_probe import held_out_crops, unconditional  # noqa: E402


def run_history(run_dir: Path) -> list[dict[str, float]]:
    """Every history row of the run's offline W&B records, as {key: float}."""
    folders = sorted(glob.glob(str(run_dir / "wandb" / "offline-run-*")))
    if not folders:
        raise FileNotFoundError(
            f"{run_dir} holds no W&B records (wandb/offline-run-*); pass a run folder"
        )
    folder = folders[-1]
    rows = []
    for record in read_offline_records(folder):
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.nested_key[0] if item.nested_key else item.key
                with contextlib.suppress(TypeError, ValueError):
                    row[key] = float(json.loads(item.value_json))
            rows.append(row)
    return rows


def plot_losses(rows: list[dict[str, float]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    keys = sorted({k for r in rows for k in r if k.startswith("train/loss_t")})
    for key in ["train/loss", *keys, "val/loss"]:
        pts = [(r["trainer/global_step"], r[key]) for r in rows if key in r]
        if pts:
            xs, ys = zip(*pts)
            style = "k-" if key == "val/loss" else ("-" if key == "train/loss" else ":")
            ax.plot(xs, ys, style, label=key.replace("train/loss_", "train t "), lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("L1 loss on ε")
    ax.set_ylim(0, 0.9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_spectrograms(clips: dict[str, torch.Tensor], path: Path) -> Path:
    fig, axes = plt.subplots(len(clips), 1, figsize=(7, 2.2 * len(clips)), dpi=90)
    for ax, (title, audio) in zip(axes, clips.items()):
        mel = log_mel(audio).numpy()
        ax.imshow(mel, origin="lower", aspect="auto", extent=(0, len(audio) / SAMPLE_RATE, 0, 80))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel bin")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("data/piano14"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        model = load_export(args.export)  # safetensors + allow-listed config: runs no code
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print("loss curve:", plot_losses(run_history(args.run), args.out / "loss_curve.png"))

    train = [read_audio(f) for f in find_audio_files(args.data / "train")]
    held = [read_audio(f) for f in find_audio_files(args.data / "eval")]
    spectrum = average_power_spectrum(train)
    crops = held_out_crops(args.data / "eval", count=32, seconds=0.5)
    losses = held_out_losses(crops, model.schedule, spectrum, model.net)
    print("held-out L1 on ε:", {k: round(v, 4) for k, v in losses.items()})

    clips = {}
    plan = build_plan(args.sampler, model.schedule)
    for seed in (0, 1):
        audio = unconditional(model.net, plan, args.seconds, seed)
        clips[f"sample, seed {seed} ({plan.name})"] = audio
    real = held[0][: int(args.seconds * SAMPLE_RATE)]
    for name, audio in [*clips.items(), ("real piano (held out)", real)]:
        measures = sample_measures(audio)
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in measures.items()))
    clips["real piano (held out)"] = real
    print("spectrograms:", plot_spectrograms(clips, args.out / "spectrograms.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
