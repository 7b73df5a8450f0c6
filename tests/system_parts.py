"""Skip markers for the optional system packages, each naming what is missing and the fix.

The suite passes on a machine with none of them (``make test`` on a fresh machine); the
tests that need one skip, and ``-ra`` lists the reasons in pytest's summary so a user
knows what was not exercised.
"""

from __future__ import annotations

import shutil

import pytest

from pianodiff.data.render import SOUNDFONTS, Synth, missing_parts

INSTALL = "install: bash scripts/install_system_deps.sh"


def skip_reason(missing: list[str]) -> str:
    """One reason naming every missing part and the install command ('' when none)."""
    return f"missing system part(s): {', '.join(missing)}; {INSTALL}" if missing else ""


def synth_missing() -> list[str]:
    """What the FluidSynth renders lack here: the program, the MuseScore soundfont."""
    return missing_parts(Synth(SOUNDFONTS["musescore"]))


def ffmpeg_missing() -> list[str]:
    return [] if shutil.which("ffmpeg") else ["ffmpeg not found"]


def needs(missing: list[str]) -> pytest.MarkDecorator:
    """Mark a test as needing system parts; ``tests/conftest.py`` skips it with
    :func:`skip_reason` when ``missing`` is not empty. CI's second pass runs exactly the
    marked tests (``-m system_parts``) on a machine that has the packages."""
    return pytest.mark.system_parts(missing=missing)


needs_synth = needs(synth_missing())
# Runs either way, but takes another path when ffmpeg is present (MP4 beside the GIF).
uses_ffmpeg = needs([])


def browser_missing() -> list[str]:
    """What the web page's browser tests lack here: headless Chromium and its driver."""
    return [f"{prog} not found" for prog in ("chromium", "chromedriver") if not shutil.which(prog)]


needs_browser = needs(browser_missing())
