"""Where things are: the project root, the bundled checkpoint and output file names."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from pianodiff.generation.errors import GenerationError

BUNDLED_CHECKPOINT = Path("checkpoints") / "piano14-ctx"
OUTPUT_FOLDER = Path("outputs") / "generated"


def project_root() -> Path | None:
    """$PIANODIFF_ROOT, else the nearest folder holding ``checkpoints/`` above the current
    directory, else above this package (a source checkout); None when there is none."""
    env = os.environ.get("PIANODIFF_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "checkpoints").is_dir():
                return folder
    return None


def resolve_checkpoint(path: str | os.PathLike | None) -> Path:
    """The export folder to load: ``path`` if given, else the bundled piano14-ctx model."""
    if path is not None:
        folder = Path(path).expanduser()
        interrupted = folder.with_name(f".{folder.name}.old").is_dir()  # load_export says so
        if not folder.exists() and not interrupted:
            raise GenerationError(
                f"checkpoint not found: {folder} (pass checkpoint=<export folder>)"
            )
        return folder
    root = project_root()
    folder = (root or Path.cwd()) / BUNDLED_CHECKPOINT
    if not (folder / "model.safetensors").is_file():
        raise GenerationError(
            f"no bundled model at {folder}: train one (make train), export it with "
            "scripts/export_checkpoint.py, or pass checkpoint=<export folder> "
            "(set PIANODIFF_ROOT to the project folder if you run from elsewhere)"
        )
    return folder


def default_output(extender: str, sampler: str, seed: int, folder: Path = OUTPUT_FOLDER) -> Path:
    """A new, unused file name under ``outputs/generated/`` (time, extender, sampler, seed)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = f"{stamp}_{extender}_{sampler}_seed{seed}"
    path = folder / f"{stem}.wav"
    n = 1
    while path.exists() or path.with_suffix(".json").exists():
        path = folder / f"{stem}-{n}.wav"
        n += 1
    return path


def sidecar_path(output: Path) -> Path:
    """The JSON sidecar written beside ``output`` (``out.wav`` -> ``out.json``)."""
    return output.with_suffix(".json")


def check_output(path: Path, overwrite: bool) -> None:
    """Fail early (before any sampling) when ``path`` or its sidecar cannot or must not be
    written. Creates nothing: the folder is made when the audio is written."""
    if path.suffix.lower() not in (".wav", ".flac"):
        raise GenerationError(f"output {path} must end in .wav or .flac")
    for target, what in ((path, "output"), (sidecar_path(path), "sidecar")):
        if target.is_dir():
            raise GenerationError(
                f"{what} {target} is a folder; give another output= such as out.wav"
            )
        if target.exists() and not overwrite:
            raise GenerationError(
                f"{what} {target} exists; pass overwrite=true to replace it or choose "
                "another output="
            )
    folder = _nearest_existing(path.parent)
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise GenerationError(
            f"cannot write to {path.parent} ({err.strerror or err}); choose another output="
        ) from err


def _nearest_existing(folder: Path) -> Path:
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
