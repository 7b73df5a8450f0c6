"""The key-following measure: tonal continuations in four keys, and ones that ignore the key.

A continuation follows when its pitch-class profile is closest to its own prompt's among
the prompts of the same passage in four keys (0, +3, +6, +9 semitones). Synthetic piano-like
chord progressions stand in for music: the prompt plays I–IV–V–I, the continuation other
chords of the same key (vi–ii–V7–I), so a right answer needs the key, not the same notes.
"""

from __future__ import annotations

import math

import mido
import numpy as np
import pytest
import soundfile as sf
import torch
from system_parts import needs_synth
from test_generate import make_export
from test_profile_conditioning import make_profile_export

from pianodiff.conf import compose
from pianodiff.data.piano14 import Piece
from pianodiff.data.render import Synth, resolve_soundfont
from pianodiff.evaluation.harness import evaluate
from pianodiff.evaluation.key_following import key_summary
from pianodiff.evaluation.key_set import (
    ensure_key_set,
    held_out_pieces,
    key_file,
    transpose_midi,
)
from pianodiff.measures.key_following import (
    classes_from_activations,
    follows,
    rotate_classes,
    top1_share,
    transcribe,
)
from pianodiff.measures.notes import unavailable_reason
from pianodiff.measures.pitch_profile import fold_to_classes, pitch_profile

SR = 22050
SHIFTS = (0, 3, 6, 9)
PROMPT = [(60, 64, 67), (65, 69, 72), (55, 59, 62, 67), (60, 64, 67)]  # I IV V I in C
CONTINUATION = [(57, 60, 64), (62, 65, 69), (55, 59, 62, 65), (60, 64, 67, 72)]  # vi ii V7 I
IGNORING = [(64, 68, 71), (61, 64, 68), (59, 63, 66), (64, 68, 71)]  # E major, whatever the key

needs_notes = pytest.mark.skipif(
    unavailable_reason() is not None, reason="the notes extra is not installed (make notes)"
)


def progression(chords, shift: int = 0, seconds: float = 0.6) -> torch.Tensor:
    """Piano-like chords (decaying partials 1/k), each ``seconds`` long: (T,) float32."""
    t = np.arange(int(seconds * SR)) / SR
    out = []
    for chord in chords:
        seg = np.zeros_like(t)
        for midi in chord:
            f = 440.0 * 2 ** ((midi + shift - 69) / 12)
            seg += sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 4) if k * f < 5000)
        out.append(seg * np.exp(-3.0 * t) / len(chord))
    wave = np.concatenate(out)
    return torch.from_numpy(0.5 * wave / np.abs(wave).max()).float()


def stft_classes(wave: torch.Tensor) -> torch.Tensor:
    """The STFT pitch profile folded to 12 classes (the measure's transcriber-free stand-in)."""
    return fold_to_classes(pitch_profile(wave, SR))


def profiles(chords, fn) -> torch.Tensor:
    """(1 passage, 4 keys, 12) profiles of ``chords`` played in every key."""
    return torch.stack([fn(progression(chords, s)) for s in SHIFTS]).unsqueeze(0)


def test_tonal_continuations_follow_their_key_by_the_stft_profile():
    prompts = profiles(PROMPT, stft_classes)
    assert top1_share(profiles(CONTINUATION, stft_classes), prompts) == 1.0


def test_a_continuation_that_ignores_its_prompt_is_at_chance():
    prompts = profiles(PROMPT, stft_classes)
    same = stft_classes(progression(IGNORING))  # the same audio after every prompt
    ignoring = same.expand(1, len(SHIFTS), 12)
    assert top1_share(ignoring, prompts) == pytest.approx(1 / len(SHIFTS))
    # whatever it plays: rotating it through all 12 keys still finds exactly one in four
    shares = [top1_share(rotate_classes(ignoring, r), prompts) for r in range(12)]
    assert all(share == pytest.approx(0.25) for share in shares)


@needs_notes
def test_transcribed_tonal_continuations_follow_and_keep_register():
    prompts = [transcribe(progression(PROMPT, s), SR) for s in SHIFTS]
    conts = [transcribe(progression(CONTINUATION, s), SR) for s in SHIFTS]
    stack = lambda ts: torch.stack([t.classes for t in ts]).unsqueeze(0)  # noqa: E731
    assert top1_share(stack(conts), stack(prompts)) == 1.0
    ignoring = transcribe(progression(IGNORING), SR).classes.expand(1, len(SHIFTS), 12)
    assert top1_share(ignoring, stack(prompts)) == pytest.approx(0.25)
    # the register rises with the key (the transcriber also hears some upper partials as
    # notes: measured 67, 69, 76, 80 for the prompts), the continuation's stays near its
    # prompt's, and the density is the chords' (3-4 notes every 0.6 s, partials included)
    pitches = [p.mean_pitch for p in prompts]
    assert pitches == sorted(pitches) and pitches[-1] - pitches[0] >= 9
    for p, c in zip(prompts, conts):
        assert abs(c.mean_pitch - p.mean_pitch) < 4
        assert 5.0 <= c.notes_per_s <= 15.0 and c.note_frames > 0.8


def test_activations_fold_to_pitch_classes():
    note = np.zeros((10, 88), dtype=np.float32)
    note[:, 60 - 21] = 1.0  # C4
    note[:5, 67 - 21] = 1.0  # G4, half as long
    classes = classes_from_activations(note)
    expected = torch.zeros(12, dtype=torch.float64)
    expected[0], expected[7] = 10.0, 5.0
    assert torch.allclose(classes, expected / expected.norm())
    assert follows(classes, torch.stack([expected, rotate_classes(expected, 3)]), 0)
    assert not follows(classes, torch.stack([expected, rotate_classes(expected, 3)]), 1)


def test_top1_share_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="passages, keys, 12"):
        top1_share(torch.zeros(1, 4, 12), torch.zeros(1, 3, 12))


def test_summary_reports_shares_register_and_windows():
    rows = []
    for k, shift in enumerate(SHIFTS):
        # harmony off: a NaN cut in every row (a fresh one per row, as a CSV reads back)
        common = {"extender": "e", "sampler": "s", "harmony_strength": 0.0}
        common["harmony_cut"] = float("nan")
        rows.append(
            {
                "task": "key",
                **common,
                "follows": float(k == 0),
                "follows_real": 1.0,
                "mean_pitch": 60.0 + shift,
                "mean_pitch_prompt": 60.0 + shift,
                "mean_pitch_real": 61.0 + shift,
                "pitch_gap": 0.0,
                "pitch_gap_real": 1.0,
                "notes_per_s": 4.0,
                "notes_per_s_prompt": 5.0,
                "notes_per_s_real": 5.0,
                "key_note_frames": 0.5,
                "key_tonality": 0.1,
                "key_hiss_db": -40.0,
                "key_seam_median": 1.5,
            }
        )
        for w in (1, 2):
            rows.append(
                {
                    "task": "key_window",
                    **common,
                    "window": w,
                    "follows": float(w == 1),
                    "follows_real": math.nan,
                }
            )
    for closer, late in ((1.0, 0.1), (0.5, 0.3)):  # two same-seed pairs of pieces
        rows.append(
            {
                "task": "key_influence",
                "extender": "e",
                "sampler": "s",
                "harmony_strength": 0.0,
                "harmony_cut": float("nan"),
                "own_prompt_closer": closer,
                "corr_0.5s-end": late,
            }
        )
    (s,) = key_summary(rows)
    assert s["prompts"] == 4 and s["follows"] == 1 and s["top1"] == 0.25 and s["top1_real"] == 1
    assert s["pairs"] == 2 and s["own_prompt_closer"] == 0.75
    assert s["corr_0.5s-end_mean"] == pytest.approx(0.2) and s["corr_0.5s-end_max"] == 0.3
    assert s["pitch_corr"] == pytest.approx(1.0) and s["pitch_gap_real"] == 1.0
    assert s["top1_w1"] == 1.0 and s["top1_w2"] == 0.0 and math.isnan(s["top1_real_w1"])


def test_transpose_midi_moves_notes_not_drums(tmp_path):
    path = tmp_path / "x.mid"
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    track += [
        mido.Message("note_on", note=60, velocity=64, channel=0, time=0),
        mido.Message("note_off", note=60, velocity=0, channel=0, time=100),
        mido.Message("note_on", note=36, velocity=64, channel=9, time=0),
    ]
    mid.tracks.append(track)
    mid.save(str(path))
    transpose_midi(path, 3)
    notes = [(m.channel, m.note) for m in mido.MidiFile(str(path)).tracks[0] if hasattr(m, "note")]
    assert notes == [(0, 63), (0, 63), (9, 36)]


@needs_synth
@pytest.mark.slow
def test_rendered_keys_move_the_profile_by_their_shift(tmp_path):
    piece = Piece("bach_bwv846", "bach/bwv846.mxl", "eval")
    resolve_soundfont("musescore")  # the set needs the renderer's soundfont
    files = ensure_key_set(tmp_path, (0, 3), [piece], measures=2)
    assert set(files) == {("bach_bwv846", 0), ("bach_bwv846", 3)}
    assert files[("bach_bwv846", 3)] == key_file(tmp_path, "bach_bwv846", 3)
    from pianodiff.core.audio import read_audio

    c, e_flat = (stft_classes(read_audio(files[("bach_bwv846", s)])) for s in (0, 3))
    # the same music three semitones up: its profile is the C one rotated by 3
    assert float(rotate_classes(c, 3) @ e_flat) > 0.95 > float(c @ e_flat)
    assert Synth  # the renderer's own type, imported for the set


@needs_notes
def key_harness_config(tmp_path, checkpoint, *extra: str):
    """The evaluate config of a tiny key-following run: the three held-out pieces in two
    keys, written as progressions (already rendered: the harness renders nothing)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    for piece in held_out_pieces():
        for shift in (0, 6):
            wave = progression(PROMPT + CONTINUATION, shift).numpy()
            sf.write(key_file(keys, piece.piece_id, shift), wave, SR, subtype="PCM_16")
    return compose(
        "evaluate",
        [
            f"checkpoint={checkpoint}",
            f"data_dir={keys}",
            "files=1",
            "natural.cuts_per_file=5",
            "extenders=[interpolation]",
            "samplers=[ddim]",
            "+sampler_params.ddim.num_steps=2",
            "gap.enabled=false",
            "extension.enabled=false",
            "unconditional.enabled=false",
            "influence.enabled=false",
            "wandb.enabled=false",
            "key_following.enabled=true",
            f"key_following.data_dir={keys}",
            "key_following.shifts=[0,6]",
            "key_following.passages_per_file=1",
            "key_following.prompt_seconds=1.2",
            "key_following.seconds=0.6",
            "key_following.geometry.window_seconds=0.5",
            "key_following.geometry.context_seconds=0.1",
            "key_following.geometry.crossfade_seconds=0.02",
            *extra,
        ],
    )


def test_the_harness_continues_every_key_and_reports_the_key(tmp_path):
    cfg = key_harness_config(tmp_path, make_export(tmp_path / "tiny"), "harmony.strength=10")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows, table = evaluate(cfg, run_dir)
    judged = [r for r in rows if r["task"] == "key"]
    assert len(judged) == 3 * 2  # three held-out pieces, two keys each
    assert {r["shift"] for r in judged} == {0, 6}
    assert all(r["follows_real"] == 1.0 for r in judged)  # the real music stays in its key
    assert all(r["harmony_strength"] == 10.0 and r["follows"] in (0.0, 1.0) for r in judged)
    assert all(math.isnan(r["profile_scale"]) for r in judged)  # this model takes no profile
    windows = [r for r in rows if r["task"] == "key_window"]
    assert sorted({r["window"] for r in windows}) == [1, 2]  # 0.6 s = 0.4 s + 0.2 s
    assert "Key-following" in table and "10 @ ᾱ≤0.8" in table
    # same seed, different pieces, same key: one influence row per pair, as the harness's
    # continuation cases report them
    pairs = [r for r in rows if r["task"] == "key_influence"]
    assert len(pairs) == 3 * 2  # three pairs of pieces in each of the two keys
    assert all(r["shift"] == 0 or r["shift"] == 6 for r in pairs)
    assert all(r["passage"].split("@")[0] != r["passage_b"].split("@")[0] for r in pairs)
    assert all(r["own_prompt_closer"] in (0.0, 0.5, 1.0) for r in pairs)
    assert all(-1.0 <= r["corr_0.5s-end"] <= 1.0 for r in pairs)
    assert "Prompt influence" in table and "0.5s-end" in table


def test_a_profile_model_is_judged_with_its_guidance_scale(tmp_path):
    cfg = key_harness_config(
        tmp_path,
        make_profile_export(tmp_path / "profiled"),
        "harmony.strength=0",
        "pitch_profile.scale=2",
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows, table = evaluate(cfg, run_dir)
    judged = [r for r in rows if r["task"] in ("key", "key_window", "key_influence")]
    assert judged and all(r["profile_scale"] == 2.0 for r in judged)
    assert "off, profile w=2" in table
    (summary,) = key_summary(rows)
    assert summary["profile_scale"] == 2.0 and summary["prompts"] == 3 * 2
