"""Write RGB frames as a looping GIF (Pillow) or an MP4 (ffmpeg through a pipe), atomically."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from pianodiff.core.audio import atomic_path


def write_gif(images: list[np.ndarray], path: Path, fps: float) -> Path:
    """Save RGB frames as a looping GIF atomically.

    One palette for all frames, built from the first, middle and last frame (they span the
    colours: noise to clean), then each frame is mapped onto it without dithering — ~30×
    faster than an adaptive palette per frame and it keeps colours steady between frames.
    """
    picks = [images[0], images[len(images) // 2], images[-1]]
    montage = Image.fromarray(np.concatenate(picks, axis=0))
    palette = montage.quantize(256, method=Image.Quantize.FASTOCTREE)
    frames = [
        Image.fromarray(im).quantize(palette=palette, dither=Image.Dither.NONE) for im in images
    ]
    durations = [int(1000 / fps)] * len(frames)
    durations[-1] = 2000
    with atomic_path(path) as tmp:
        frames[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=durations,
            loop=0,
            disposal=1,
            optimize=False,
        )
    return path


def write_mp4(images: list[np.ndarray], path: Path, fps: float, ffmpeg: str) -> Path:
    """Pipe RGB frames to ffmpeg (H.264, yuv420p) and write ``path`` atomically."""
    h, w = images[0].shape[:2]
    hold = int(round(2 * fps))  # hold the last frame ~2 s, like the GIF
    with atomic_path(path) as tmp:
        cmd = [
            ffmpeg,
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            f"{fps}",
            "-i",
            "-",
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mp4",
            str(tmp),
        ]
        proc = subprocess.run(
            cmd,
            input=b"".join(im.tobytes() for im in [*images, *[images[-1]] * hold]),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed writing {path}: {proc.stderr.decode()[-400:]}")
    return path
