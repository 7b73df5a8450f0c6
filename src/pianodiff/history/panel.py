"""Side-by-side panels: several generated pieces (or extenders) in one static PNG.

Each column is one run: on top a frame of its history animation (the GIF beside its
output) — the middle of its first extension window's walk when the row says which frames
those are, since the base window is the same for every extender — with the known region
shaded green, below the mel spectrogram of its output with the seams marked, and a title
with the figures that compare them (NFE, wall time, seam score).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pianodiff.core.audio import read_audio  # noqa: E402
from pianodiff.history.figures import draw_mel, save_figure  # noqa: E402


def gif_frame(path: str | Path, fraction: float = 0.5, index: int | None = None) -> np.ndarray:
    """The RGB frame (H, W, 3) number ``index`` of a GIF, or at ``fraction`` of its length."""
    with Image.open(path) as im:
        last = im.n_frames - 1
        im.seek(min(last, int(fraction * last)) if index is None else min(last, max(0, index)))
        return np.asarray(im.convert("RGB"))


def comparison_panel(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG with one column per row dict.

    Each row needs "output", "extender", "sampler", "nfe", "wall_seconds", "seam_score",
    "seams_seconds", "sample_rate" and optionally "history_gif", "history_frame" (the frame
    to show; default the middle) and "history_frame_label" (its caption).
    """
    has_gif = any(r.get("history_gif") for r in rows)
    n_rows = 2 if has_gif else 1
    fig, axes = plt.subplots(
        n_rows, len(rows), figsize=(4.6 * len(rows), 3.4 * n_rows), squeeze=False,
        gridspec_kw={"height_ratios": [1.5, 1.0] if has_gif else [1.0]},
    )  # fmt: skip
    for col, r in enumerate(rows):
        title = (
            f"{r['extender']} · {r['sampler']}\nNFE {r['nfe']} · {r['wall_seconds']:.1f} s wall"
            f" · seam {r['seam_score']:.2f}"
        )
        if has_gif:
            ax = axes[0, col]
            ax.axis("off")
            if r.get("history_gif"):
                ax.imshow(gif_frame(r["history_gif"], index=r.get("history_frame")))
                caption = r.get("history_frame_label") or "mid-walk"
                ax.set_title(f"{title}\nhistory: {caption} (known region green)", fontsize=9)
            else:
                ax.set_title(title + "\n(no history)", fontsize=9)
        audio = read_audio(r["output"], int(r.get("sample_rate", 22050)))
        mel_ax = axes[-1, col]
        draw_mel(mel_ax, audio, int(r.get("sample_rate", 22050)), r.get("seams_seconds"))
        if not has_gif:
            mel_ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)
