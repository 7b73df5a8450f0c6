"""Every relative link and image of the README, docs/ and studies/ points to a file that
exists, so moving a page or a figure cannot leave a dead link behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES += sorted((ROOT / "studies").glob("*.md"))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # [text](target) and ![alt](target)


def local_links(page: Path) -> list[str]:
    return [m[1] for m in LINK.finditer(page.read_text()) if "://" not in m[1]]


def test_the_link_pattern_reads_links_and_images():
    assert LINK.findall("see [a](docs/a.md#x), ![b](img/b.png) and [c](https://x.org)") == [
        "docs/a.md",
        "img/b.png",
        "https://x.org",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page):
    dead = [target for target in local_links(page) if not (page.parent / target).exists()]
    assert not dead, f"{page.relative_to(ROOT)} links to missing files: {dead}"
