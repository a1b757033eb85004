"""Every connection file of the networking doc: fixtures verbatim, valid, and rebuilt by builders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hil.netconfig import Keyfile, validate
from hil.netconfig import builders as b
from hil.netconfig.schema import LEGACY_KEYS, SCHEMA

REPO = Path(__file__).resolve().parent.parent
DOC = REPO.parent / "shared" / "reference" / "balenaos-networking.md"
if not DOC.exists():  # a worktree lives in /work/wt/NAME, shared/ is /work/shared
    DOC = Path("/work/shared/reference/balenaos-networking.md")
FIXTURES = REPO / "fixtures" / "keyfiles" / "doc"
NAMES = [
    "resin-wifi",
    "my-ethernet",
    "wpa2-enterprise",
    "eduroam",
    "static-ethernet",
    "static-wifi",
    "balena-hotspot",
    "cellular",
]


def doc_blocks() -> list[str]:
    text = DOC.read_text()
    blocks = [b for b in re.findall(r"```\n(.*?)```", text, re.S) if b.startswith("[connection]")]
    return [b.replace("{{ $names.company.short }}", "balena") for b in blocks]


@pytest.mark.skipif(not DOC.exists(), reason="the networking doc is not beside the repo")
def test_fixtures_are_the_doc_verbatim() -> None:
    blocks = doc_blocks()
    assert len(blocks) == len(NAMES)
    for name, block in zip(NAMES, blocks, strict=True):
        assert (FIXTURES / name).read_text() == block, name


@pytest.mark.parametrize("name", NAMES)
def test_doc_example_is_valid(name: str) -> None:
    report = validate((FIXTURES / name).read_bytes(), name)
    assert report.valid, report.lines()
    legacy = [w for w in report.warnings if "legacy key" in w.message]
    has_legacy = "security=802-11-wireless-security" in (FIXTURES / name).read_text()
    assert bool(legacy) == has_legacy


def semantic(kf: Keyfile) -> dict[tuple[str, str], object]:
    """What NetworkManager reads: (setting, key) -> value, lists as lists, legacy keys out."""
    from hil.netconfig.keyfile import setting_name

    out: dict[tuple[str, str], object] = {}
    for line in kf.entries():
        assert line.group and line.key
        setting = setting_name(line.group)
        if (setting, line.key) in LEGACY_KEYS:
            continue
        prop = SCHEMA[setting].get(line.key)
        listy = prop is not None and prop.kind in ("strv", "dns")
        value = kf.get_list(setting, line.key) if listy else kf.get(setting, line.key)
        out[(setting, line.key)] = value
    return out


BUILT = {
    "resin-wifi": lambda: b.wifi("My Awesome WiFi Ssid", "super_secret_wifi_password", hidden=True),
    "my-ethernet": lambda: b.ethernet(never_default=True),
    "wpa2-enterprise": lambda: b.wpa2_enterprise(
        "PLACE_SSID_HERE", "PLACE_YOUR_ID_HERE", "PLACE_YOUR_PASSWORD_HERE"
    ),
    "eduroam": lambda: b.eduroam(
        "PLACE_YOUR_USERNAME_HERE@PLACE_YOUR_INSTITUTION_DOMAIN_HERE",
        "PLACE_YOUR_PASSWORD_HERE",
        "PLACE_YOUR_CERTIFICATE_HERE",
    ),
    "static-ethernet": lambda: b.ethernet(
        static=b.StaticIP("192.168.1.111/24", "192.168.1.1", ("8.8.8.8", "8.8.4.4"))
    ),
    "static-wifi": lambda: b.wifi(
        "PLACE_SSID_HERE",
        "PLACE_YOUR_PASSWORD_HERE",
        hidden=True,
        static=b.StaticIP("192.168.1.127/24", "192.168.1.1", ("8.8.8.8", "8.8.4.4")),
    ),
    "balena-hotspot": lambda: b.hotspot(
        "PLACE_SSID_HERE", "PLACE_YOUR_PASSWORD_HERE", uuid="36060c57-aebd-4ccf-aba4-ef75121b5f77"
    ),
    "cellular": lambda: b.gsm(
        "giffgaff.com", number="*99#", username="giffgaff", password="password"
    ),
}


@pytest.mark.parametrize("name", NAMES)
def test_builder_makes_the_doc_example(name: str) -> None:
    built = BUILT[name]()
    doc = Keyfile.parse((FIXTURES / name).read_bytes())
    assert semantic(built) == semantic(doc)
    assert validate(built, name).valid


@pytest.mark.parametrize("name", ["resin-wifi", "balena-hotspot", "cellular"])
def test_builder_output_is_the_doc_text(name: str) -> None:
    assert BUILT[name]().dump() == (FIXTURES / name).read_text()
