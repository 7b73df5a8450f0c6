"""A model card for an export folder, written from the files themselves.

The card is rendered from ``config.yaml`` and ``model.safetensors`` alone, so a test can
check that the committed card still matches the committed weights. Free text lives in
``meta.notes`` of the export's config.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf
from safetensors import safe_open

from pianodiff.checkpoint.export import CONFIG_FILE, WEIGHTS_FILE

CARD_FILE = "MODEL_CARD.md"


def count_parameters(weights: str | Path) -> int:
    """Number of scalars stored in a safetensors file (without loading the tensors)."""
    total = 0
    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
            n = 1
            for d in f.get_slice(key).get_shape():
                n *= d
            total += n
    return total


def receptive_field(layers: int, cycle: int) -> int:
    """DiffWave's receptive field in samples: 1 + Σ 2·2^(i mod cycle) (kernel size 3)."""
    return 1 + sum(2 * 2 ** (i % cycle) for i in range(layers))


def render_model_card(export_dir: str | Path, name: str | None = None) -> str:
    """The markdown card of an export folder."""
    export_dir = Path(export_dir)
    cfg = OmegaConf.to_container(OmegaConf.load(export_dir / CONFIG_FILE), resolve=True)
    model, diffusion, meta = cfg["model"], cfg["diffusion"], cfg.get("meta") or {}
    sr = int(meta.get("sample_rate", 22050))
    precondition = model.get("data_std") if "net" in model else None
    net = model.get("net", model)  # a preconditioned model wraps the DiffWave config
    layers, channels = int(net["residual_layers"]), int(net["residual_channels"])
    cycle = int(net["dilation_cycle"])
    rf = receptive_field(layers, cycle)
    params = count_parameters(export_dir / WEIGHTS_FILE)
    schedule = ", ".join(f"{k}={v}" for k, v in diffusion.items() if k != "_target_")
    val = meta.get("val_losses") or {}
    lines = [
        f"# Model card: {name or export_dir.name}",
        "",
        "Unconditional DiffWave (ε-prediction) trained by pianodiff. Generated from the files in",
        "this folder by `python scripts/write_model_card.py`; edit `meta.notes` in config.yaml,",
        "not this card.",
        "",
        "| field | value |",
        "|---|---|",
        f"| network | DiffWave, {layers} residual layers × {channels} channels, "
        f"dilation cycle {cycle}"
        + (f", EDM-style preconditioning (data RMS {precondition})" if precondition else "")
        + " |",
        f"| parameters | {params:,} |",
        f"| receptive field | {rf} samples ({rf / sr:.3f} s) |",
        f"| noise schedule | `{diffusion['_target_'].rsplit('.', 1)[-1]}` ({schedule}) |",
        f"| sample rate | {sr} Hz, mono |",
        f"| training steps | {meta.get('steps', 'unknown')} |",
        f"| training time | {meta.get('train_hours', 'unknown')} h |",
        f"| hardware | {meta.get('hardware', 'unknown')} |",
        f"| precision | {meta.get('precision', 'unknown')} |",
        f"| data | {meta.get('data', 'unknown')} |",
        f"| recipe | {meta.get('recipe', 'unknown')} |",
    ]
    for key in sorted(val):
        lines.append(f"| {key} (EMA, held out) | {float(val[key]):.4f} |")
    if meta.get("notes"):
        lines += ["", "## Notes", "", str(meta["notes"]).strip()]
    return "\n".join(lines) + "\n"
