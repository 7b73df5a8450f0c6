"""Notes as a real transcriber hears them: basic-pitch's model, run by onnxruntime.

Spotify's basic-pitch (Bittner et al., ICASSP 2022) ships its trained network as ONNX inside
its wheel (``basic_pitch/saved_models/icassp_2022/nmp.onnx``). This module runs that file
directly with onnxruntime and never imports the ``basic_pitch`` package: its ``__init__``
and its ``predict`` path try TensorFlow first (and, where TF is installed, load the TF
SavedModel instead), read audio only from files, and print to stdout. The framing below
reproduces its ``inference.run_inference`` exactly (same activations to the last bit):

- audio at 22050 Hz, mono; 3840 zeros (half the overlap) are put in front;
- windows of 43844 samples (2 s less one 256-sample hop) every 36164 samples (the window
  less a 30-frame overlap of 7680 samples), the last one zero-padded;
- each window gives 172 frames at 86.13 frames/s (hop 256); 15 frames are cut from each
  end of every window, the rest concatenated and trimmed to ⌊T · 86 / 22050⌋ frames.

Two measures per clip:

- ``note_frames``: the share of frames whose strongest note activation (over the 88 piano
  keys) is ≥ 0.5 — the transcriber is sure some note sounds there;
- ``notes_per_s``: note events per second, decoded from the activations by basic-pitch's
  own note creation (``note_events.py``, its default thresholds).

Calibration (measured on 5 s clips; tests/test_notes.py, docs/evaluation.md): white, pink
and brown noise 0.000 note frames; the tests' decaying two-note chord 0.85; the first 30 s
of the rendered piano14 pieces 0.91–1.00.

The model is an optional extra: ``make notes`` installs it. Without it, :func:`note_measures`
raises :class:`NotesUnavailable` (one line naming the extra and the make target), and the
harness, the training probe and the demo callback log one line that the measure is off.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pianodiff import SAMPLE_RATE
from pianodiff.measures.note_events import decode_notes

log = logging.getLogger(__name__)

MODEL_RATE = 22050
HOP = 256
WINDOW = 2 * MODEL_RATE - HOP  # 43844 samples per model call
OVERLAP_FRAMES = 30
OVERLAP = OVERLAP_FRAMES * HOP  # 7680 samples shared by neighbouring windows
STRIDE = WINDOW - OVERLAP  # 36164
NOTE_THRESHOLD = 0.5
MODEL_FILE = ("saved_models", "icassp_2022", "nmp.onnx")
OUTPUTS = {  # the ONNX graph's output names for basic-pitch 0.4's icassp_2022 model
    "note": "StatefulPartitionedCall:1",
    "onset": "StatefulPartitionedCall:2",
    "contour": "StatefulPartitionedCall:0",
}
INPUT = "serving_default_input_2:0"
MISSING_HINT = (
    "the note measure needs the optional 'notes' extra (basic-pitch's ONNX model and "
    "onnxruntime): run `make notes`"
)
BATCH_WINDOWS = 8  # windows per model call: bounds memory for long clips


class NotesUnavailable(RuntimeError):
    """The optional transcriber is not installed; the message names the fix."""


@dataclass(frozen=True)
class NoteMeasures:
    """What the transcriber heard in one clip."""

    note_frames: float  # share of frames with a note activation >= 0.5
    notes_per_s: float  # decoded note events per second
    notes: int  # decoded note events
    frames: int  # activation frames (86.13 per second)


def model_path() -> Path:
    """Where basic-pitch's ONNX model lies, found without importing ``basic_pitch``.

    Raises:
        NotesUnavailable: basic-pitch or onnxruntime is not installed.
    """
    try:
        spec = importlib.util.find_spec("basic_pitch")
    except (ImportError, ValueError):  # a broken or half-removed install
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise NotesUnavailable(MISSING_HINT)
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_FILE)
    if not path.is_file() or importlib.util.find_spec("onnxruntime") is None:
        raise NotesUnavailable(MISSING_HINT)
    return path


def unavailable_reason() -> str | None:
    """None when the note measure can run, else the one-line reason it cannot."""
    try:
        model_path()
    except NotesUnavailable as err:
        return str(err)
    return None


@lru_cache(maxsize=4)
def _session(path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # the project's thread budget, not every core
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def frame_windows(wave: np.ndarray) -> np.ndarray:
    """(T,) float32 audio at 22050 Hz -> (windows, 43844, 1), framed as basic-pitch does."""
    padded = np.concatenate([np.zeros(OVERLAP // 2, dtype=np.float32), wave])
    starts = range(0, len(padded), STRIDE)
    out = np.zeros((len(starts), WINDOW, 1), dtype=np.float32)
    for k, start in enumerate(starts):
        chunk = padded[start : start + WINDOW]
        out[k, : len(chunk), 0] = chunk
    return out


def activations(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """basic-pitch's activations of (T,) audio.

    Returns:
        {"note": (frames, 88), "onset": (frames, 88), "contour": (frames, 264)} float32 in
        [0, 1], frames = ⌊T' · 86 / 22050⌋ for T' samples at 22050 Hz; key k is MIDI 21 + k.
    Raises:
        NotesUnavailable: the optional extra is not installed.
    """
    session = _session(str(model_path()), max(1, torch.get_num_threads()))
    wave = wave.detach().reshape(-1).float().cpu()
    if sample_rate != MODEL_RATE:
        from pianodiff.core.audio import resample

        wave = resample(wave, sample_rate, MODEL_RATE)
    samples = wave.numpy().astype(np.float32, copy=False)
    windows = frame_windows(samples)
    names = list(OUTPUTS.values())
    parts = [session.run(names, {INPUT: windows[i : i + BATCH_WINDOWS]})
             for i in range(0, len(windows), BATCH_WINDOWS)]  # fmt: skip
    frames = int(np.floor(len(samples) * (MODEL_RATE // HOP) / MODEL_RATE))
    cut = OVERLAP_FRAMES // 2
    out = {}
    for k, key in enumerate(OUTPUTS):
        stacked = np.concatenate([p[k] for p in parts])[:, cut:-cut, :]
        out[key] = stacked.reshape(-1, stacked.shape[-1])[:frames]
    return out


def note_measures(wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> NoteMeasures:
    """Note-frame share and note events per second of (T,) audio.

    Raises:
        NotesUnavailable: the optional extra is not installed (one line: run `make notes`).
    """
    act = activations(wave, sample_rate)
    note = act["note"]
    frames = int(note.shape[0])
    if frames == 0:
        return NoteMeasures(float("nan"), float("nan"), 0, 0)
    sure = float((note.max(axis=1) >= NOTE_THRESHOLD).mean())
    events = decode_notes(note, act["onset"])
    seconds = wave.numel() / sample_rate
    return NoteMeasures(sure, len(events) / seconds, len(events), frames)


def note_metrics(
    wave: torch.Tensor, sample_rate: int = SAMPLE_RATE, prefix: str = "", suffix: str = ""
) -> dict[str, float]:
    """``{prefix}note_frames{suffix}`` and ``{prefix}notes_per_s{suffix}`` of (T,) audio.

    For places that log many measures and must not fail for want of this one: without the
    optional extra it returns {} and logs one line that the note measure is off (once per
    process). :func:`note_measures` is the call that fails loudly.
    """
    reason = unavailable_reason()
    if reason is not None:
        _say_off(reason)
        return {}
    m = note_measures(wave, sample_rate)
    return {
        f"{prefix}note_frames{suffix}": m.note_frames,
        f"{prefix}notes_per_s{suffix}": m.notes_per_s,
    }


def announce_if_off() -> bool:
    """True when the note measure can run; else log the one line that it is off."""
    reason = unavailable_reason()
    if reason is not None:
        _say_off(reason)
    return reason is None


@lru_cache(maxsize=1)
def _say_off(reason: str) -> None:
    log.warning("note measure off: %s", reason)
