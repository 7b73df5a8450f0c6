"""Animate a recorded diffusion history: GIF always (Pillow), MP4 when ffmpeg is on PATH.

Each frame shows, for the window being generated (x axis in seconds of the final output):
the waveform of x_t (grey) and x̂0 (blue), the log-mel spectrogram of x_t and of x̂0, the
known region shaded, the seams as dashed red lines, and a title line with window, step,
direction, t, ᾱ, NFE and the inpainter's own parameters (e.g. λ).

Speed: the matplotlib figure is built once and its artists are updated per frame (Agg
backend); spectrograms come from one batched torch STFT and waveforms are reduced to a
min/max envelope per pixel column, so 60 frames render in a few seconds.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio.functional as AF  # noqa: E402
from PIL import Image  # noqa: E402

from pianodiff.core.audio import atomic_path  # noqa: E402
from pianodiff.history.recorder import HistoryFrame, HistoryRecorder, mask_edges  # noqa: E402
from pianodiff.history.video import write_gif, write_mp4  # noqa: E402

log = logging.getLogger(__name__)

N_MELS, N_FFT, HOP = 64, 1024, 256
DB_RANGE = 80.0
SYMBOLS = {"lambda": "λ", "alpha_bar": "ᾱ", "xi": "ξ", "guidance_scale": "ζ", "scale": "ζ"}


def history_path(output: str | Path, ext: str = "gif") -> Path:
    """``out.wav`` -> ``out.history.gif`` (the animation beside the audio)."""
    return Path(output).with_suffix(f".history.{ext}")


def log_mel_db(x: torch.Tensor, sample_rate: int) -> np.ndarray:
    """(F, T) audio -> (F, N_MELS, frames) power in dB (float32 numpy)."""
    x = x.float()
    if x.shape[-1] < N_FFT:
        x = torch.nn.functional.pad(x, (0, N_FFT - x.shape[-1]))
    spec = (
        torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True).abs() ** 2
    )
    fb = AF.melscale_fbanks(N_FFT // 2 + 1, 0.0, sample_rate / 2, N_MELS, sample_rate)
    mel = torch.einsum("fkn,km->fmn", spec, fb)
    return (10.0 * torch.log10(mel + 1e-10)).numpy()


def envelope(x: torch.Tensor, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(T,) audio -> (positions, values) of a min/max zig-zag with ``columns`` columns.

    Plotting 2 points per pixel column looks the same as plotting every sample and is ~100×
    cheaper for a 5 s window.
    """
    x = x.float()
    n = x.shape[0]
    columns = max(1, min(columns, n))
    per = -(-n // columns)  # ceil
    padded = torch.nn.functional.pad(x[None, None], (0, per * columns - n), mode="replicate")
    blocks = padded.reshape(columns, per)
    zigzag = torch.stack([blocks.min(1).values, blocks.max(1).values], 1).flatten()
    pos = np.repeat(np.arange(columns, dtype=np.float64) * per, 2)
    return pos, zigzag.numpy()


def describe_frame(frame: HistoryFrame, total_moves: int | None, label: str) -> str:
    """The title line of a frame: window, step, direction, t, ᾱ, NFE, own parameters."""
    step = f"step {frame.step + 1}" + (f"/{total_moves}" if total_moves else "")
    arrow = "↓" if frame.direction == "down" else "↑"
    parts = [label, step, f"{arrow} {frame.direction}", f"t={frame.t:.2f}"]
    parts += [f"ᾱ={frame.alpha_bar:.3f}", f"NFE {frame.nfe}"]
    parts += [f"{SYMBOLS.get(k, k)}={v:.3g}" for k, v in frame.params.items()]
    return "  ·  ".join(p for p in parts if p)


class _Animator:
    """One matplotlib figure, drawn in full once per window and blitted for each frame.

    Axes, ticks and labels are drawn once per window and saved as a background; each frame
    restores it and draws only the animated artists (images, lines, shading, seams, text).
    Redrawing the tick labels every frame would cost ~10× more.
    """

    def __init__(self, recorder: HistoryRecorder, title: str, width_px: int, height_px: int):
        self.rec = recorder
        self.sr = recorder.sample_rate
        dpi = 80
        self.fig, self.axes = plt.subplots(
            3, 1, figsize=(width_px / dpi, height_px / dpi), dpi=dpi, sharex=True
        )
        self.fig.subplots_adjust(left=0.08, right=0.99, top=0.88, bottom=0.08, hspace=0.12)
        self.columns = int(width_px * 0.92)
        self.fig.suptitle(title, fontsize=11, y=0.985)
        self.info = self.fig.text(0.5, 0.925, "", ha="center", fontsize=8.5, animated=True)
        wave, spec_xt, spec_x0 = self.axes
        (self.line_xt,) = wave.plot([], [], color="0.6", lw=0.6, label="x_t", animated=True)
        (self.line_x0,) = wave.plot([], [], color="C0", lw=0.6, label="x̂0", animated=True)
        wave.set_ylim(-1.6, 1.6)
        wave.set_ylabel("wave", fontsize=8)
        self.legend = wave.legend(loc="upper right", fontsize=7, ncol=2)
        self.legend.set_animated(True)  # drawn after the lines, so they never hide it
        empty = np.zeros((N_MELS, 2))
        kw = {"origin": "lower", "aspect": "auto", "cmap": "magma", "interpolation": "nearest"}
        self.im_xt = spec_xt.imshow(empty, animated=True, **kw)
        self.im_x0 = spec_x0.imshow(empty, animated=True, **kw)
        spec_xt.set_ylabel("mel x_t", fontsize=8)
        spec_x0.set_ylabel("mel x̂0", fontsize=8)
        spec_x0.set_xlabel("seconds", fontsize=8)
        for ax in self.axes:
            ax.tick_params(labelsize=7)
        self.decor: list[list] = [[], [], []]
        self.window: int | None = None
        self.background = None

    def set_window(self, w: int, length: int, vmax: float) -> None:
        """Shade the known region and mark the seams of window ``w``; redraw the background."""
        for artist in (a for per_ax in self.decor for a in per_ax):
            artist.remove()
        self.decor = [[], [], []]
        info = self.rec.windows[w]
        t0 = info.offset_samples / self.sr
        t1 = t0 + length / self.sr
        mask = info.known_mask
        edges = [0, *mask_edges(mask), length] if mask is not None else [0, length]
        for a, b in zip(edges[:-1], edges[1:]):
            if mask is not None and a < len(mask) and bool(mask[a]):
                for i, ax in enumerate(self.axes):
                    # Waveform: a light shade under the lines; spectrograms: a green band
                    # along the top, so the image's colours stay readable.
                    band = {"ymin": 0.0, "alpha": 0.2} if i == 0 else {"ymin": 0.93, "alpha": 1.0}
                    span = ax.axvspan(
                        t0 + a / self.sr,
                        t0 + b / self.sr,
                        color="C2",
                        lw=0,
                        animated=True,
                        **band,
                    )
                    self.decor[i].append(span)
        for s in info.seams:
            for i, ax in enumerate(self.axes):
                line = ax.axvline(t0 + s / self.sr, color="red", ls="--", lw=0.9, animated=True)
                self.decor[i].append(line)
        for ax in self.axes:
            ax.set_xlim(t0, t1)
        for im in (self.im_xt, self.im_x0):
            im.set_extent((t0, t1, 0, N_MELS))
            im.set_clim(vmax - DB_RANGE, vmax)
        self.fig.canvas.draw()
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        self.window = w

    def draw(
        self,
        frame: HistoryFrame,
        x0: torch.Tensor | None,
        spec_xt: np.ndarray,
        spec_x0: np.ndarray | None,
        vmax: float,
        text: str,
    ) -> np.ndarray:
        """Update the artists for ``frame`` (x̂0 given separately, see ``carried_x0``) and
        return the RGB image (H, W, 3) uint8."""
        length = frame.x_t.shape[0]
        if frame.window != self.window:
            self.set_window(frame.window, length, vmax)
        t0 = self.rec.windows[frame.window].offset_samples / self.sr
        pos, val = envelope(frame.x_t, self.columns)
        self.line_xt.set_data(t0 + pos / self.sr, val)
        if x0 is not None:
            pos, val = envelope(x0, self.columns)
            self.line_x0.set_data(t0 + pos / self.sr, val)
        else:
            self.line_x0.set_data([], [])
        floor = np.full((N_MELS, 2), vmax - DB_RANGE)
        self.im_xt.set_data(spec_xt)
        self.im_x0.set_data(spec_x0 if spec_x0 is not None else floor)
        self.info.set_text(text)
        canvas = self.fig.canvas
        canvas.restore_region(self.background)
        order = [
            [*self.decor[0], self.line_xt, self.line_x0, self.legend],  # shade under lines
            [self.im_xt, *self.decor[1]],  # seams and the known band over the images
            [self.im_x0, *self.decor[2]],
        ]
        for ax, artists in zip(self.axes, order):
            for artist in artists:
                ax.draw_artist(artist)
        self.fig.draw_artist(self.info)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        plt.close(self.fig)


def render_frames(
    recorder: HistoryRecorder,
    title: str | None = None,
    width_px: int = 720,
    height_px: int = 480,
    indices: list[int] | None = None,
) -> list[np.ndarray]:
    """RGB images (H, W, 3) of the recorder's frames (all, or those at ``indices``)."""
    recorder.finish()
    frames = recorder.frames
    if not frames:
        raise ValueError("the history recorder holds no frames; was it passed to sample()?")
    chosen = [frames[i] for i in (indices if indices is not None else range(len(frames)))]
    # One batched STFT per kind; frames of different window lengths go in separate batches.
    specs_xt = _specs([f.x_t for f in chosen], recorder.sample_rate)
    x0s = [carried_x0(frames, f) for f in chosen]
    specs_x0 = _specs(x0s, recorder.sample_rate)
    finals = [s for s in specs_x0 if s is not None] or specs_xt
    vmax = float(max(s.max() for s in finals))
    animator = _Animator(
        recorder, title or recorder.label or "diffusion history", width_px, height_px
    )
    try:
        images = []
        for f, x0, sx, s0 in zip(chosen, x0s, specs_xt, specs_x0):
            info = recorder.windows[f.window]
            wlabel = info.label or f"window {info.index}"
            text = describe_frame(f, info.num_moves, wlabel)
            images.append(animator.draw(f, x0, sx, s0, vmax, text))
        return images
    finally:
        animator.close()


def carried_x0(frames: list[HistoryFrame], frame: HistoryFrame) -> torch.Tensor | None:
    """x̂0 of ``frame``; for an "up" move (RePaint re-noising, no estimate) the latest x̂0
    of an earlier frame of the same window, so the animation keeps showing the estimate."""
    if frame.x0_hat is not None:
        return frame.x0_hat
    best = None
    for f in frames:
        if f.window == frame.window and f.move < frame.move and f.x0_hat is not None:
            best = f.x0_hat
    return best


def _specs(xs: list[torch.Tensor | None], sample_rate: int) -> list[np.ndarray | None]:
    """Spectrograms of a list of (T,) tensors (None stays None), batched by length."""
    out: list[np.ndarray | None] = [None] * len(xs)
    by_len: dict[int, list[int]] = {}
    for i, x in enumerate(xs):
        if x is not None:
            by_len.setdefault(x.shape[0], []).append(i)
    for idx in by_len.values():
        specs = log_mel_db(torch.stack([xs[i] for i in idx]), sample_rate)
        for i, s in zip(idx, specs):
            out[i] = s
    return out


def render_history(
    recorder: HistoryRecorder,
    output: str | Path,
    title: str | None = None,
    fps: float = 8.0,
    width_px: int = 720,
    height_px: int = 480,
    mp4: bool = True,
) -> list[Path]:
    """Write ``<output>.history.gif`` (and ``.mp4`` when ffmpeg is found); return the paths.

    Args:
        recorder: a recorder that has seen at least one sampler step.
        output: the audio output path (``out.wav``) the animation belongs beside.
        title: the figure title (default: the recorder's label).
        fps: frames per second; the last frame is held 2 s so the result can be seen.
    """
    images = render_frames(recorder, title, width_px, height_px)
    written = [write_gif(images, history_path(output, "gif"), fps)]
    if mp4:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            log.info("ffmpeg not found on PATH: wrote the GIF only, no MP4 history")
        else:
            written.append(write_mp4(images, history_path(output, "mp4"), fps, ffmpeg))
    return written


def snapshot_strip(
    recorder: HistoryRecorder,
    path: str | Path,
    count: int = 4,
    width_px: int = 480,
    height_px: int = 360,
) -> Path:
    """A static PNG of ``count`` frames side by side (start … end of the history)."""
    n = len(recorder.finish().frames)
    idx = sorted({round(i * (n - 1) / max(1, count - 1)) for i in range(count)})
    images = render_frames(recorder, None, width_px, height_px, indices=idx)
    strip = np.concatenate(images, axis=1)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
    return path
