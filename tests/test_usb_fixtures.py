"""Every fixture of real tool output says where it came from (fixtures/udev/SOURCES.md)."""

from __future__ import annotations

import pytest

from tests.usb_umockdev import REPO

SOURCES = (REPO / "fixtures" / "udev" / "SOURCES.md").read_text()
FILES = sorted(
    p.relative_to(REPO / "fixtures")
    for d in ("udev", "lsusb")
    for p in (REPO / "fixtures" / d).rglob("*")
    if p.is_file() and p.name != "SOURCES.md"
)


@pytest.mark.parametrize("path", FILES, ids=str)
def test_fixture_is_sourced(path):
    assert f"`{path.name}`" in SOURCES, f"fixtures/{path} is not described in SOURCES.md"


def test_there_are_recordings_of_modems_in_both_modes():
    names = {p.name for p in FILES}
    assert {"e3372h-storage.umockdev", "e3372h-hilink.umockdev"} <= names
    assert {"zte-mf636-storage.umockdev", "zte-mf636-modem.umockdev"} <= names
