"""The piano14 selection: 14 training and 3 held-out pieces from the music21 corpus.

The original model was trained on 14 mono piano tracks; these public-domain scores,
rendered with a sampled grand piano, give a data set of the same shape (about 39 minutes)
with no download. ``bpm`` replaces every tempo of the score: set for three slow pieces whose
encodings have no tempo or only the encoder's default 120 bpm, which plays them far too fast.
"""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Piece:
    """One score of a set: ``corpus_path`` is a music21 corpus path.

    ``corpus_path`` may end in ``#N`` to pick tune ``X: N`` of an ABC collection;
    ``monophonic`` renders only the top line of the first part (``render.to_melody``).
    """

    piece_id: str
    corpus_path: str
    split: str
    bpm: float | None = None
    monophonic: bool = False


PIANO14: tuple[Piece, ...] = (
    Piece("bach_bwv846", "bach/bwv846.mxl", "train"),
    Piece("cpebach_h186", "cpebach/h186.mxl", "train", bpm=60),
    Piece("chopin_mazurka06_2", "chopin/mazurka06-2.krn", "train"),
    Piece("joplin_maple_leaf_rag", "joplin/maple_leaf_rag.mxl", "train"),
    Piece("clara_polonaise_op1n1", "schumann_clara/polonaise_op1n1.mxl", "train"),
    Piece("clara_polonaise_op1n2", "schumann_clara/polonaise_op1n2.mxl", "train"),
    Piece("clara_polonaise_op1n3", "schumann_clara/polonaise_op1n3.mxl", "train"),
    Piece("verdi_la_donna_e_mobile", "verdi/laDonnaEMobile.mxl", "train"),
    Piece("schubert_lindenbaum", "schubert/Lindenbaum.xml", "train", bpm=60),
    Piece("handel_lascia_chio_pianga", "handel/rinaldo/Lascia_chio_pianga.mxl", "train"),
    Piece("beach_prayer_of_a_tired_child", "beach/prayer_of_a_tired_child.musicxml", "train", 60),
    Piece("liliuokalani_aloha_oe", "liliuokalani/aloha_oe.mxl", "train"),
    Piece("weber_concertino_clarinet", "weber/concertino_clarinet.mxl", "train"),
    Piece("clara_opus17_movement3", "schumann_clara/opus17/movement3.xml", "train"),
    Piece("clara_polonaise_op1n4", "schumann_clara/polonaise_op1n4.mxl", "eval"),
    Piece("robert_schumann_opus48no2", "schumann_robert/opus48no2.mxl", "eval"),
    Piece("mozart_k545_exposition", "mozart/k545/movement1_exposition.mxl", "eval"),
)


def select(pieces: str | list[str] | None = None) -> list[Piece]:
    """The pieces named (ids, comma-separated or a list), or all of them.

    Raises:
        ValueError: an unknown id (the message lists the valid ones).
    """
    return select_from(PIANO14, pieces)


def select_from(
    table: tuple[Piece, ...], pieces: str | list[str] | None = None, listed: int = 20
) -> list[Piece]:
    """The pieces of ``table`` named by id (comma-separated or a list), or all of them.

    Raises:
        ValueError: an unknown id (the message lists up to ``listed`` valid ones).
    """
    if not pieces:
        return list(table)
    wanted = pieces.split(",") if isinstance(pieces, str) else list(pieces)
    wanted = [w.strip() for w in wanted if w.strip()]
    by_id = {p.piece_id: p for p in table}
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        ids = list(by_id)
        more = f", ... ({len(ids)} in all)" if len(ids) > listed else ""
        raise ValueError(
            f"unknown piece id(s) {', '.join(unknown)}; choose from {', '.join(ids[:listed])}{more}"
        )
    return [by_id[w] for w in wanted]
