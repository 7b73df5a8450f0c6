"""A model card for an export folder, written from the files themselves.

The card is rendered from ``config.yaml`` and ``model.safetensors`` alone, so a test can
check that the committed card still matches the committed weights. Free text lives in
``meta.notes`` of the export's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pianodiff.checkpoint.export import (
    CARD_FILE,
    CONFIG_FILE,
    CheckpointError,
    check_meta,
    load_export,
)

__all__ = ["CARD_FILE", "describe_network", "merged", "render_model_card"]


def describe_network(model: dict) -> str:
    """One line on the network of an export's ``model`` section (a plain dict)."""
    precondition = model.get("data_std") if "net" in model else None
    net = model.get("net", model)  # a preconditioned model wraps the network's config
    frame = int(net.get("frame", 1))
    layout = f"residual stack on {frame}-sample frames, " if frame > 1 else ""
    text = (
        f"DiffWave, {layout}{int(net['residual_layers'])} residual layers × "
        f"{int(net['residual_channels'])} channels, dilation cycle {int(net['dilation_cycle'])}"
    )
    if int(net.get("fine_layers", 0)) > 0:
        text += f", {int(net['fine_layers'])} full-rate layers × {int(net['fine_channels'])}"
    if net.get("context"):
        text += ", context-conditioned (known audio and mask as inputs)"
    if precondition:
        text += f", EDM-style preconditioning (data RMS {precondition})"
    return text


def render_model_card(
    export_dir: str | Path, name: str | None = None, meta_updates: dict[str, Any] | None = None
) -> str:
    """The markdown card of an export folder.

    The folder is read through :func:`load_export`, so a card is only ever written for an
    export that loading accepts (allow-listed targets, no interpolations, weights that fit),
    and the receptive field and parameter count are the built network's own.
    ``meta_updates`` (nested) are merged into the export's meta first and checked as loading
    checks meta, so a caller can render the card of an edit before writing it.
    """
    export_dir = Path(export_dir)
    loaded = load_export(export_dir)
    cfg = OmegaConf.to_container(loaded.config, resolve=False)
    diffusion = cfg["diffusion"]
    meta = merged(cfg.get("meta") or {}, meta_updates or {})
    source = str(export_dir / CONFIG_FILE)
    check_meta(meta, source)
    sr = int(meta.get("sample_rate", loaded.sample_rate))
    rf = int(loaded.net.receptive_field)
    params = sum(p.numel() for p in loaded.net.parameters())
    schedule = ", ".join(f"{k}={v}" for k, v in diffusion.items() if k != "_target_")
    val = meta.get("val_losses") or {}
    if not isinstance(val, dict) or not all(_is_number(v) for v in val.values()):
        raise CheckpointError(
            f"{source}: meta.val_losses must map loss names to numbers, got {_short(val)}"
        )
    lines = [
        f"# Model card: {name or export_dir.name}",
        "",
        "DiffWave (ε-prediction) trained by pianodiff. Generated from the files in this folder",
        "by `python scripts/write_model_card.py`; edit `meta.notes` in config.yaml, not this",
        "card.",
        "",
        "| field | value |",
        "|---|---|",
        f"| network | {describe_network(cfg['model'])} |",
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


def merged(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``updates`` merged in, nested mappings key by key (neither is changed)."""
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
