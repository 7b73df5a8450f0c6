"""studies/continuation_picture.py: cut a prompt, draw a generate output with its seams."""

from __future__ import annotations

import json

import soundfile as sf
import torch
from conftest import tone

from studies.continuation_picture import chromagram, main

SR = 22050


def test_the_chromagram_lights_the_chord_classes():
    wave = torch.from_numpy(tone(1.0, (261.63, 392.0)))  # C and G
    chroma = chromagram(wave, SR)
    assert chroma.shape[0] == 12 and float(chroma.max()) <= 1.0 + 1e-9
    loudest = set(chroma.sum(dim=1).topk(2).indices.tolist())
    assert loudest == {0, 7}


def test_prompt_then_draw_writes_the_picture(tmp_path, capsys):
    recording = tmp_path / "piece.wav"
    sf.write(recording, tone(3.0), SR)
    prompt = tmp_path / "prompt.wav"
    assert (
        main(["prompt", str(recording), "--start", "0.5", "--seconds", "1", "--out", str(prompt)])
        == 0
    )
    assert sf.info(prompt).frames == SR
    generated = tmp_path / "continued.wav"
    sf.write(generated, tone(2.0, (220.0, 277.2)), SR)
    sidecar = {"prompt_seconds": 1.0, "seams_seconds": [1.0, 1.5], "extender": "interpolation"}
    sidecar |= {"sampler": "dpmpp_2m_sde", "seed": 0, "harmony": {"strength": 10.0}}
    generated.with_suffix(".json").write_text(json.dumps(sidecar))
    out = tmp_path / "img" / "continuation.png"
    assert main(["draw", str(generated), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob("*.partial.png"))


def test_a_prompt_past_the_end_is_one_line_and_writes_nothing(tmp_path, capsys):
    recording = tmp_path / "piece.wav"
    sf.write(recording, tone(3.0), SR)
    out = tmp_path / "prompt.wav"
    assert (
        main(["prompt", str(recording), "--start", "2", "--seconds", "6", "--out", str(out)]) == 1
    )
    err = capsys.readouterr().err.strip()
    assert err == f"error: {recording} ends at 3.0 s; lower --start" and not out.exists()


def test_a_missing_sidecar_is_one_line_and_writes_nothing(tmp_path, capsys):
    generated = tmp_path / "continued.wav"
    sf.write(generated, tone(1.0), SR)
    out = tmp_path / "continuation.png"
    assert main(["draw", str(generated), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "continued.json" in err
    assert not out.exists()
