"""Does the bf16 fast path change generated audio? Metrics of fp32 vs bf16 generation.

    python -m benchmarks.quality [--quick]

The bundled model continues the same held-out excerpt with the same seed twice — network
in fp32, then under bf16 autocast — and the tonality, onset rate and seam score of the new
audio are compared (ratio = bf16 / fp32), beside the wall time (ratio = speed-up). Needs
the bundled model (checkpoints/) and the held-out audio (make data); without them it says
so and gives no rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

DATA = Path("data/piano14/eval")


def _excerpt(seconds: float) -> torch.Tensor | None:
    from pianodiff.core.audio import read_audio

    files = sorted(DATA.glob("*.wav"))
    if not files:
        return None
    wave = read_audio(files[0])
    start = min(len(wave) // 3, max(len(wave) - int(seconds * 22050), 0))
    return wave[start : start + int(seconds * 22050)]


def _run(model, ground, seconds: float, bf16: bool) -> dict:
    from pianodiff.api import Generator
    from pianodiff.measures.natural import seam_scores_at
    from pianodiff.measures.onsets import onset_rate
    from pianodiff.measures.tonality import tonality

    gen = Generator(model, torch.device("cpu"), bf16=bf16)
    start = time.perf_counter()
    audio, sr = gen.extend(ground, seconds, extender="replacement", sampler="fast", seed=0)
    wall = time.perf_counter() - start
    new = audio[gen.last.base_samples :]
    seams = seam_scores_at(audio, gen.last.seams, sr)
    return {
        "audio": audio,
        "wall_s": wall,
        "tonality": tonality(new, sr),
        "onset_rate": onset_rate(new, sr),
        "seam_score": sum(seams) / len(seams),
    }


def main(quick: bool = False) -> list[dict]:
    from benchmarks.forward import native_bf16
    from pianodiff.checkpoint.export import load_export
    from pianodiff.generation.errors import GenerationError
    from pianodiff.generation.paths import resolve_checkpoint

    if not native_bf16():
        print("quality: skipped, this CPU has no native bf16 (bf16 is emulated and slower; see")
        print("  the forward rows), so bf16 generation is not a candidate here")
        return []
    try:
        model = load_export(resolve_checkpoint(None))
    except GenerationError as err:
        print(f"quality: skipped, {err}")
        return []
    ground = _excerpt(2.0)
    if ground is None:
        print(f"quality: skipped, no held-out audio in {DATA} (run `make data`)")
        return []
    seconds = 4.0 if quick else 12.0
    fp32, bf16 = _run(model, ground, seconds, False), _run(model, ground, seconds, True)
    n = min(len(fp32["audio"]), len(bf16["audio"]))
    diff = (fp32["audio"][:n] - bf16["audio"][:n]).norm() / fp32["audio"][:n].norm()
    name = f"bf16 vs fp32/{model.path.name}, replacement+fast, {seconds:g} s"
    rows = [
        {
            "name": f"{name}/{key}",
            "value": bf16[key],
            "baseline": fp32[key],
            "ratio": bf16[key] / fp32[key] if fp32[key] else float("nan"),
            "unit": unit,
        }
        for key, unit in (
            ("tonality", "flatness (ratio bf16/fp32)"),
            ("onset_rate", "onsets/s (ratio bf16/fp32)"),
            ("seam_score", "seam score (ratio bf16/fp32)"),
        )
    ]
    rows.append(
        {
            "name": f"{name}/wall time",
            "value": bf16["wall_s"],
            "baseline": fp32["wall_s"],
            "ratio": fp32["wall_s"] / bf16["wall_s"],
            "unit": "s (ratio = speed-up)",
            "rel_error": float(diff),
        }
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in main(parser.parse_args().quick):
        print(row)
