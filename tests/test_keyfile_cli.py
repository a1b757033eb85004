"""`hil keyfile check` and `hil keyfile new`, as a user runs them (DESIGN.md's CLI contract)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

KEYFILES = Path(__file__).resolve().parent.parent / "fixtures" / "keyfiles"
DOC = KEYFILES / "doc"
CORPUS = KEYFILES / "corpus"


def hil(hil_cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*hil_cmd, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_check_all_doc_examples_valid(hil_cmd: list[str]) -> None:
    files = sorted(str(p) for p in DOC.iterdir() if p.suffix != ".md")
    r = hil(hil_cmd, "keyfile", "check", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": valid") == 8


def test_check_json_contract(hil_cmd: list[str], tmp_path: Path) -> None:
    good = str(DOC / "resin-wifi")
    bad = str(CORPUS / "wifi-psk-7chars")
    r = hil(hil_cmd, "keyfile", "check", "--json", good, bad)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert [o["path"] for o in out] == [good, bad]
    assert [o["valid"] for o in out] == [True, False]
    for o in out:
        assert set(o) == {"path", "valid", "errors", "warnings"}
        for message in o["errors"] + o["warnings"]:
            assert message.startswith("line ")
    assert "line 11: [wifi-security] psk:" in out[1]["errors"][0]
    assert "1234567" not in r.stdout  # the psk of that file


def test_check_exit_2_when_a_file_cannot_be_read(hil_cmd: list[str], tmp_path: Path) -> None:
    r = hil(hil_cmd, "keyfile", "check", str(DOC / "resin-wifi"), str(tmp_path / "missing"))
    assert r.returncode == 2
    assert "missing" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_check_never_prints_secrets(hil_cmd: list[str], tmp_path: Path) -> None:
    f = tmp_path / "leaky"
    f.write_text(
        "[connection]\nid=leaky\ntype=gsm\n[gsm]\napn=bad apn\npassword=Sup3rSecretPass\n"
        "pin=98765\n[wifi]\npsk=Sup3rSecretPass\n"
    )
    for args in (["--json"], []):
        r = hil(hil_cmd, "keyfile", "check", *args, str(f))
        assert r.returncode == 1
        assert "Sup3rSecretPass" not in r.stdout + r.stderr
        assert "98765" not in r.stdout + r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["wifi", "--ssid", "hil-lab", "--psk", "lab-passphrase", "--hidden", "--priority", "5"],
        ["wifi", "--ssid", "open-net"],
        ["wifi", "--ssid", "lab", "--psk", "lab-passphrase", "--address", "192.168.1.127/24",
         "--gateway", "192.168.1.1", "--dns", "8.8.8.8", "--dns", "8.8.4.4"],
        ["ethernet", "--never-default"],
        ["ethernet", "--address", "192.168.1.111/24", "--gateway", "192.168.1.1", "--dns", "8.8.8.8"],
        ["enterprise", "--ssid", "corp", "--identity", "me", "--password", "pw-123456"],
        ["eduroam", "--identity", "me@uni.edu", "--password", "pw-123456", "--ca-cert", "/etc/ca.pem"],
        ["hotspot", "--ssid", "hil-ap", "--psk", "hotspot-pass"],
        ["hotspot", "--ssid", "hil-ap", "--psk", "hotspot-pass", "--wpa1", "--band", "a"],
        ["gsm", "--apn", "internet"],
        ["gsm", "--apn", "giffgaff.com", "--username", "u", "--password", "p", "--pin", "1234"],
    ],
)  # fmt: skip
def test_new_writes_valid_files(hil_cmd: list[str], tmp_path: Path, args: list[str]) -> None:
    out = tmp_path / "conn"
    r = hil(hil_cmd, "keyfile", "new", *args, "-o", str(out))
    assert r.returncode == 0, r.stderr
    check = hil(hil_cmd, "keyfile", "check", str(out))
    assert check.returncode == 0, check.stdout


def test_new_refuses_a_short_psk_without_printing_it(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "keyfile", "new", "wifi", "--ssid", "x", "--psk", "tiny7ch")
    assert r.returncode == 2
    assert "psk" in r.stderr and "tiny7ch" not in r.stderr + r.stdout
    assert len(r.stderr.strip().splitlines()) == 1


def test_new_help_lists_the_kinds(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "keyfile", "new", "--help")
    assert r.returncode == 0
    for kind in ("wifi", "ethernet", "enterprise", "eduroam", "hotspot", "gsm"):
        assert kind in r.stdout


def test_a_secret_that_lost_its_equals_sign_is_not_printed(tmp_path: Path, hil_cmd) -> None:
    bad = tmp_path / "leak"
    bad.write_text("[connection]\nid=x\ntype=wifi\n\n[wifi]\nssid=lab\n\n"
                   "[wifi-security]\nkey-mgmt=wpa-psk\npsk hunter2hunter2\n")
    r = subprocess.run([*hil_cmd, "keyfile", "check", "--json", str(bad)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert "hunter2hunter2" not in r.stdout + r.stderr
    assert ":10" in r.stdout or '"line": 10' in r.stdout or "10" in r.stdout
