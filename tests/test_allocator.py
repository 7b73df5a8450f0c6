"""The entrypoints' allocator tuning applies on glibc and yields to the user's own settings."""

from __future__ import annotations

import sys

import pytest

from pianodiff.core.allocator import tune_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_applies_without_user_settings(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_MAX_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("PIANODIFF_DEFAULT_MALLOC", raising=False)
    assert tune_allocator() is True


def test_user_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "0")
    assert tune_allocator() is False
    monkeypatch.delenv("MALLOC_MMAP_MAX_")
    monkeypatch.setenv("PIANODIFF_DEFAULT_MALLOC", "1")
    assert tune_allocator() is False
