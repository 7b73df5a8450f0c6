"""Make training data: render the piano14 or melodies set, or convert a folder of recordings.

    python -m pianodiff.data.prepare piano14 [jobs=N] [soundfont=musescore|fluidr3|PATH]
                                             [out=data/piano14] [pieces=ID,ID,...]
                                             [measures=N] [fluidsynth=PATH]
    python -m pianodiff.data.prepare melodies [the same options; out=data/melodies]
    python -m pianodiff.data.prepare folder SRC DST

piano14 (17 piano scores) and melodies (144 monophonic folk tunes) write
``OUT/{train,eval}/<piece_id>.wav`` and ``OUT/manifest.csv``. A piece whose file matches
the checksum, soundfont and excerpt recorded in the manifest is skipped, so an interrupted
run resumes and a finished one does nothing. While it runs, finished rows go to
``OUT/manifest.partial.csv``; ``manifest.csv`` is (re)written when the run ends.
Piece ids are listed in pianodiff/data/piano14.py and chosen by pianodiff/data/melodies.py;
``measures=N`` renders only the first N bars of each piece.

folder converts every wav/flac/ogg/mp3/opus file under SRC (any rate, any channel count)
into mono 22050 Hz 16-bit WAV under DST (sub-folders mirrored, silence trimmed, -1 dBFS
peak); unreadable files are listed and skipped; outputs newer than their source are kept.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pianodiff.core.audio import AudioError, atomic_path
from pianodiff.data import melodies, piano14
from pianodiff.data.convert import convert_folder, find_audio
from pianodiff.data.piano14 import SPLITS, Piece
from pianodiff.data.render import RenderError, Synth, check_synth, render_piece, soundfont_path

FIELDS = (
    "piece_id",
    "corpus_path",
    "split",
    "duration_s",
    "tempo_bpm",
    "sha256",
    "soundfont",
    "excerpt",
)
RENDER_OPTIONS = {"jobs", "soundfont", "out", "pieces", "measures", "fluidsynth"}
# name -> (the whole selection, select(ids) -> pieces)
SETS = {
    "piano14": (lambda: piano14.PIANO14, piano14.select),
    "melodies": (melodies.melody_table, melodies.select),
}
console = Console(stderr=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a manifest CSV by piece id; an absent file gives no rows."""
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        return {row["piece_id"]: row for row in csv.DictReader(fh)}


def write_manifest(
    path: Path, rows: dict[str, dict[str, str]], table: tuple[Piece, ...] = piano14.PIANO14
) -> None:
    """Write rows atomically, in the selection ``table``'s order (others after, by id)."""
    order = {p.piece_id: i for i, p in enumerate(table)}
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for pid in sorted(rows, key=lambda k: (order.get(k, len(order)), k)):
            writer.writerow({k: rows[pid].get(k, "") for k in FIELDS})


def wav_path(out: Path, piece: Piece) -> Path:
    return out / piece.split / f"{piece.piece_id}.wav"


def is_done(row: dict[str, str] | None, path: Path, soundfont: str, excerpt: str) -> bool:
    """A finished file: present, its sha256 as recorded, made with the same settings."""
    return (
        row is not None
        and path.is_file()
        and row.get("soundfont") == soundfont
        and row.get("excerpt", "") == excerpt
        and row.get("sha256") == sha256_file(path)
    )


def render_row(piece: Piece, out: Path, synth: Synth, measures: int | None) -> dict[str, str]:
    """Render one piece and return its manifest row (runs in a worker process)."""
    path = wav_path(out, piece)
    seconds = render_piece(
        piece.corpus_path,
        path,
        synth,
        bpm=piece.bpm,
        measures=measures,
        monophonic=piece.monophonic,
    )
    return {
        "piece_id": piece.piece_id,
        "corpus_path": piece.corpus_path,
        "split": piece.split,
        "duration_s": f"{seconds:.3f}",
        "tempo_bpm": "" if piece.bpm is None else f"{piece.bpm:g}",
        "sha256": sha256_file(path),
        "soundfont": synth.soundfont.name,
        "excerpt": _excerpt(measures),
    }


def _excerpt(measures: int | None) -> str:
    return "" if measures is None else f"measures=1-{measures}"


def prepare_piano14(out: str | Path = "data/piano14", **options):
    """Render the piano14 set (see :func:`prepare_set` for the options)."""
    return prepare_set("piano14", out, **options)


def prepare_melodies(out: str | Path = "data/melodies", **options):
    """Render the melodies set (see :func:`prepare_set` for the options)."""
    return prepare_set("melodies", out, **options)


def prepare_set(
    name: str,
    out: str | Path,
    soundfont: str = "musescore",
    jobs: int = 1,
    pieces: str | list[str] | None = None,
    measures: int | None = None,
    fluidsynth: str = "fluidsynth",
    show_progress: bool = True,
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Render the selected pieces of set ``name`` into ``out``; returns (rows, failures by id).

    Raises:
        RenderError: FluidSynth or the soundfont is missing (checked before any work).
        ValueError: an unknown set or piece id.
    """
    if name not in SETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(SETS)}")
    table_of, select = SETS[name]
    out = Path(out)
    synth = Synth(soundfont_path(soundfont), fluidsynth)
    chosen = select(pieces)  # the user's own words first: a typo is answered on any machine
    check_synth(synth)
    table = table_of()
    final, partial = out / "manifest.csv", out / "manifest.partial.csv"
    rows = {**read_manifest(final), **read_manifest(partial)}
    excerpt = _excerpt(measures)
    todo = [
        p
        for p in chosen
        if not is_done(rows.get(p.piece_id), wav_path(out, p), synth.soundfont.name, excerpt)
    ]
    failures: dict[str, str] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        task = bar.add_task(f"render {len(todo)} of {len(chosen)} pieces", total=len(todo))

        def record(piece: Piece, row: dict[str, str] | None, err: BaseException | None) -> None:
            if err is not None:
                failures[piece.piece_id] = f"{err.__class__.__name__}: {err}"
                console.print(f"[red]failed[/red] {piece.piece_id}: {failures[piece.piece_id]}")
            else:
                rows[piece.piece_id] = row
                write_manifest(partial, rows, table)  # resumable: finished pieces survive a kill
            bar.advance(task)

        if jobs <= 1:
            for piece in todo:
                try:
                    record(piece, render_row(piece, out, synth, measures), None)
                except Exception as err:  # one broken piece never stops the others
                    record(piece, None, err)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(render_row, p, out, synth, measures): p for p in todo}
                for fut in as_completed(futures):
                    err = fut.exception()
                    record(futures[fut], None if err else fut.result(), err)
    rows = {k: r for k, r in rows.items() if (out / r["split"] / f"{k}.wav").is_file()}
    write_manifest(final, rows, table)
    partial.unlink(missing_ok=True)
    return rows, failures


def summarise(rows: dict[str, dict[str, str]]) -> str:
    """One line per split: pieces and minutes."""
    lines = []
    for split in SPLITS:
        secs = [float(r["duration_s"]) for r in rows.values() if r["split"] == split]
        lines.append(f"{split}: {len(secs)} pieces, {sum(secs) / 60:.1f} min")
    return "; ".join(lines)


def parse_options(args: list[str], allowed: set[str]) -> dict[str, str]:
    """``key=value`` words -> dict; an unknown key or a bare word raises ValueError."""
    opts = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key not in allowed:
            raise ValueError(f"unknown option {arg!r}; options: {', '.join(sorted(allowed))}=...")
        opts[key] = value
    return opts


def _positive_int(opts: dict[str, str], key: str) -> int | None:
    if not opts.get(key):
        return None
    if not opts[key].isdigit() or int(opts[key]) < 1:
        raise ValueError(f"{key}={opts[key]} is not a whole number >= 1; e.g. {key}=2")
    return int(opts[key])


def run_render(name: str, args: list[str]) -> int:
    opts = parse_options(args, RENDER_OPTIONS)
    out = opts.get("out", f"data/{name}")
    start = time.perf_counter()
    rows, failures = prepare_set(
        name,
        out,
        soundfont=opts.get("soundfont", "musescore"),
        jobs=_positive_int(opts, "jobs") or 1,
        pieces=opts.get("pieces"),
        measures=_positive_int(opts, "measures"),
        fluidsynth=opts.get("fluidsynth", "fluidsynth"),
    )
    console.print(
        f"{summarise(rows)}; {time.perf_counter() - start:.0f} s; manifest {out}/manifest.csv",
        soft_wrap=True,
        highlight=False,
    )
    if failures:
        console.print(f"error: {len(failures)} piece(s) failed: {', '.join(failures)}")
        return 1
    return 0


def run_folder(args: list[str]) -> int:
    if len(args) != 2:
        raise ValueError("folder needs two paths: python -m pianodiff.data.prepare folder SRC DST")
    src, dst = Path(args[0]), Path(args[1])
    total = len(find_audio(src)) if src.is_dir() else 0
    with Progress(
        *(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()), console=console
    ) as bar:
        task = bar.add_task(f"convert {src}", total=total)
        report = convert_folder(src, dst, on_file=lambda _: bar.advance(task))
    for path, why in report.failed:
        console.print(f"skipped {path}: {why}", soft_wrap=True, highlight=False)
    console.print(
        f"{len(report.converted)} converted ({report.seconds / 60:.1f} min), "
        f"{len(report.skipped)} already up to date, {len(report.failed)} unreadable -> {dst}"
    )
    if not report.converted and not report.skipped:
        console.print(f"error: no audio file in {src} could be converted")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help") or argv[0] not in (*SETS, "folder"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help", "help") else 2
    try:
        return run_folder(argv[1:]) if argv[0] == "folder" else run_render(argv[0], argv[1:])
    except (RenderError, AudioError, ValueError) as err:
        console.print(f"error: {err}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
