"""The skip reasons for missing system packages name the part and the install command."""

from __future__ import annotations

import os

import pytest
from system_parts import INSTALL, browser_missing, ffmpeg_missing, skip_reason, synth_missing

from pianodiff.data.render import Synth, missing_parts


def test_a_skip_reason_names_every_missing_part_and_the_install_command(tmp_path):
    missing = missing_parts(Synth(tmp_path / "no.sf3", str(tmp_path / "no-fluidsynth")))
    assert len(missing) == 2
    reason = skip_reason(missing)
    assert "fluidsynth not found" in reason and "soundfont not found" in reason
    assert reason.endswith(INSTALL) and "install_system_deps.sh" in reason


def test_nothing_missing_gives_no_reason(tmp_path):
    font = tmp_path / "piano.sf2"
    font.write_bytes(b"RIFF")
    exe = tmp_path / "fluidsynth"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert missing_parts(Synth(font, str(exe))) == []
    assert skip_reason([]) == ""


def test_the_machine_check_agrees_with_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no programs at all
    assert any("fluidsynth not found" in m for m in synth_missing())
    assert ffmpeg_missing() == ["ffmpeg not found"]
    assert os.environ["PATH"] == str(tmp_path)


@pytest.mark.skipif(
    os.environ.get("_PIANODIFF_HIDDEN") != "1",
    reason="checks the bare-machine pass; runs only under .ci/without_system_parts.sh",
)
def test_the_bare_machine_pass_really_hides_the_system_parts():
    assert len(synth_missing()) == 2, "fluidsynth and the soundfont should both be hidden"
    assert ffmpeg_missing() == ["ffmpeg not found"]
    assert len(browser_missing()) == 2, "chromium and chromedriver should both be hidden"
