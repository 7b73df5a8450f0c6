"""Score -> piano audio: music21 -> MIDI (fixed up with mido) -> FluidSynth -> training format.

Each step fixes a pitfall found while building the piano14 set (docs/data.md):

- transposing parts are converted to sounding pitch *before* their instruments are replaced,
  or a clarinet part would sound a tone off;
- percussion parts are dropped; every part plays program 0 (acoustic grand piano);
- every part gets its own MIDI channel, never channel 10 (GM drums): two parts on one channel
  playing the same pitch cut each other's notes off;
- repeats are expanded; when a score's repeat signs are broken the signs are stripped;
- a score with no numeric tempo plays at 120 bpm unless the caller gives a tempo;
- an element that sits in two places (music21's ABC reader does this with some time
  signatures) gets a copy in the second, or the MIDI writer refuses the score;
- a monophonic piece (the melodies set) keeps only its top line (:func:`to_melody`).

The audio is then made mono, 22050 Hz, trimmed of leading/trailing silence (-60 dB below
the peak), normalised to a -1 dBFS peak and written as 16-bit PCM with no dither, so a
rebuild gives byte-identical files.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import mido

from pianodiff import SAMPLE_RATE
from pianodiff.core.audio import read_audio, write_audio
from pianodiff.data.convert import to_training_format

SOUNDFONTS = {
    "musescore": Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
    "fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
}
INSTALL_HINT = (
    "install it with: sudo apt-get install -y fluidsynth musescore-general-soundfont "
    "fluid-soundfont-gm (or: bash scripts/install_system_deps.sh)"
)
DEFAULT_BPM = 120.0
SYNTH_RATE = 44100
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


class RenderError(RuntimeError):
    """A piece cannot be rendered; the message names the problem and the fix."""


@dataclass(frozen=True)
class Synth:
    """Where FluidSynth and the soundfont live (checked by :func:`check_synth`)."""

    soundfont: Path
    fluidsynth: str = "fluidsynth"


def soundfont_path(name: str) -> Path:
    """A soundfont's path by short name (``musescore``, ``fluidr3``) or as given; unchecked."""
    return SOUNDFONTS.get(name, Path(name))


def resolve_soundfont(name: str) -> Path:
    """A soundfont by short name (``musescore``, ``fluidr3``) or by file path; must exist."""
    path = soundfont_path(name)
    if not path.is_file():
        raise RenderError(f"soundfont not found: {path}; {INSTALL_HINT}")
    return path


def missing_parts(synth: Synth) -> list[str]:
    """What of FluidSynth and its soundfont this machine lacks, each as a short phrase."""
    missing = []
    if shutil.which(synth.fluidsynth) is None:
        missing.append(f"fluidsynth not found ({synth.fluidsynth})")
    if not Path(synth.soundfont).is_file():
        missing.append(f"soundfont not found: {synth.soundfont}")
    return missing


def check_synth(synth: Synth) -> str:
    """Return the FluidSynth executable's full path, or raise one RenderError line that
    names everything missing (the program and the soundfont alike) and the install
    command, so a user installs once rather than meeting the next gap on the next run."""
    missing = missing_parts(synth)
    if missing:
        raise RenderError(f"{'; '.join(missing)}; {INSTALL_HINT}")
    return str(shutil.which(synth.fluidsynth))


def load_score(corpus_path: str, measures: int | None = None):
    """Parse a music21 corpus path (or a score file) into a piano-ready Score.

    ``path#N`` picks tune ``X: N`` of an ABC collection. ``measures`` keeps only the first
    N bars (for quick tests).
    """
    from music21 import corpus

    name, _, number = corpus_path.partition("#")
    path = Path(name)
    try:
        with warnings.catch_warnings():  # music21 warns about every overfull bar it repairs
            warnings.simplefilter("ignore")
            if path.is_file():
                score = _parse_file(path, int(number) if number else None)
            else:
                score = corpus.parse(name, number=int(number) if number else None)
    except Exception as err:  # music21 raises many types for unknown or broken scores
        raise RenderError(
            f"cannot parse score {corpus_path!r} ({err.__class__.__name__}: {err}); "
            "give a music21 corpus path such as bach/bwv846.mxl"
        ) from err
    if measures is not None:
        score = score.measures(1, int(measures))
    return score


def _parse_file(path: Path, number: int | None = None):
    from music21 import converter

    return converter.parse(str(path), number=number)


def to_melody(score):
    """Keep one line: the first part, its first voice, the top note of every chord.

    Chord symbols (lead-sheet harmony) are dropped. Used for the melodies set, whose
    fiddle tunes hold an occasional double stop; returns the same Score, changed.
    """
    from music21 import chord, harmony, note, stream

    for part in list(score.parts)[1:]:
        score.remove(part)
    for measure in score.recurse().getElementsByClass(stream.Measure):
        for voice in list(measure.voices)[1:]:
            measure.remove(voice)
    for symbol in list(score.recurse().getElementsByClass(harmony.ChordSymbol)):
        symbol.activeSite.remove(symbol)
    for ch in list(score.recurse().getElementsByClass(chord.Chord)):
        top = note.Note(max(ch.pitches), duration=ch.duration)
        top.tie = ch.tie
        ch.activeSite.replace(ch, top)
    return score


def prepare_score(score, bpm: float | None = None):
    """Apply the piano14 fixes to a music21 Score (returns a new Score).

    The input's shared elements, if any, are first given copies (in place).
    """
    from music21 import instrument, note, stream, tempo

    _unshare(score)
    score = score.toSoundingPitch()  # before instruments change: it needs their transposition
    score = _expand_repeats(score)
    for part in list(score.parts):
        if _is_percussion(part):
            score.remove(part)
    if not score.parts:
        raise RenderError("the score has no pitched parts to play; choose another piece")
    for part in score.parts:
        for el in list(part.recurse().getElementsByClass((instrument.Instrument, note.Unpitched))):
            el.activeSite.remove(el)
        part.insert(0, instrument.Piano())
    _set_tempo(score, bpm, tempo, stream)
    return score


def _unshare(score) -> None:
    """Give every element one place of its own, in place.

    music21's ABC reader sometimes puts one TimeSignature object into two bars (around a
    pickup bar), and its MIDI writer then refuses the score; the later places get copies.
    """
    seen: set[int] = set()
    for container in [score, *score.recurse(streamsOnly=True)]:
        for el in list(container.elements):
            if el.isStream:
                continue
            if id(el) in seen:
                container.replace(el, copy.deepcopy(el))
            else:
                seen.add(id(el))


def _expand_repeats(score):
    from music21 import bar, repeat

    try:
        return score.expandRepeats()
    except Exception:  # broken or unbalanced repeat signs: play the score straight through
        for el in list(score.recurse().getElementsByClass((bar.Repeat, repeat.RepeatMark))):
            site = el.activeSite
            if isinstance(el, bar.Repeat):
                if site.leftBarline is el:
                    site.leftBarline = None
                if site.rightBarline is el:
                    site.rightBarline = None
            elif site is not None:
                site.remove(el)
        return score


def _is_percussion(part) -> bool:
    from music21 import clef, instrument, note

    inst = part.getInstrument(returnDefault=False)
    if isinstance(inst, instrument.UnpitchedPercussion):
        return True
    if part.recurse().getElementsByClass(clef.PercussionClef).first() is not None:
        return True
    pitched = part.recurse().getElementsByClass(("Note", "Chord")).first()
    return pitched is None and part.recurse().getElementsByClass(note.Unpitched).first() is not None


def _set_tempo(score, bpm: float | None, tempo_mod, stream_mod) -> None:
    """Keep numeric tempo marks; without any (or with ``bpm`` given) play at one tempo."""
    marks = list(score.recurse().getElementsByClass(tempo_mod.TempoIndication))
    # MusicXML <sound tempo="72"> with no printed mark arrives as numberSounding only.
    numeric = [
        m
        for m in marks
        if isinstance(m, tempo_mod.MetronomeMark)
        and not m.numberImplicit
        and (m.number is not None or m.numberSounding is not None)
    ]
    if bpm is None and numeric:
        for m in marks:  # text-only marks ("Andante") would get music21's guessed number
            if m not in numeric and m.activeSite is not None:
                m.activeSite.remove(m)
        return
    for m in marks:
        if m.activeSite is not None:
            m.activeSite.remove(m)
    first = score.parts[0]
    target = first.getElementsByClass(stream_mod.Measure).first() or first
    target.insert(0, tempo_mod.MetronomeMark(number=float(bpm or DEFAULT_BPM)))


def score_to_midi(score, midi_path: Path) -> None:
    """Write the score as MIDI, then give each note track its own channel and program 0."""
    score.write("midi", fp=str(midi_path))
    mid = mido.MidiFile(str(midi_path))
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    note_tracks = [t for t in mid.tracks if any(m.type == "note_on" for m in t)]
    for i, track in enumerate(note_tracks):
        channel = free[i % len(free)]  # more than 15 parts: channels are shared, rare
        fixed = mido.MidiTrack()
        pending = 0
        for msg in track:
            if msg.type == "program_change":
                pending += msg.time  # drop it but keep the timing of what follows
                continue
            if hasattr(msg, "channel"):
                msg = msg.copy(channel=channel)
            fixed.append(msg.copy(time=msg.time + pending))
            pending = 0
        fixed.insert(0, mido.Message("program_change", channel=channel, program=0, time=0))
        track[:] = fixed
    mid.save(str(midi_path))


def synthesise(midi_path: Path, wav_path: Path, synth: Synth) -> None:
    """Render MIDI to a 44.1 kHz WAV with FluidSynth (no audio device, reverb on, no chorus)."""
    exe = check_synth(synth)
    cmd = [exe, "-ni", "-q", "-R", "1", "-C", "0", "-g", "0.5", "-r", str(SYNTH_RATE),
           "-o", "synth.dynamic-sample-loading=1",  # sf3: avoids ~12 s and 500 MB per run
           "-F", str(wav_path), str(synth.soundfont), str(midi_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wav_path.is_file():
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RenderError(f"fluidsynth failed on {midi_path.name}: {detail[0]}")


def render_piece(
    corpus_path: str,
    out_path: str | Path,
    synth: Synth,
    bpm: float | None = None,
    measures: int | None = None,
    max_seconds: float | None = None,
    monophonic: bool = False,
) -> float:
    """Render one score to a training-format WAV at ``out_path``; returns its seconds.

    ``monophonic`` plays only its top line (:func:`to_melody`). The output is written
    atomically: a failure never leaves a partial file.
    """
    check_synth(synth)
    score = load_score(corpus_path, measures)
    score = prepare_score(to_melody(score) if monophonic else score, bpm)
    with tempfile.TemporaryDirectory(prefix="pianodiff-render-") as tmp:
        midi_path, raw_path = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        score_to_midi(score, midi_path)
        synthesise(midi_path, raw_path, synth)
        wav = to_training_format(read_audio(raw_path, SAMPLE_RATE), max_seconds)
    write_audio(out_path, wav, SAMPLE_RATE, subtype="PCM_16")
    return wav.numel() / SAMPLE_RATE
