"""`validate()`: messages name line and key, secrets never appear, doc rules hold."""

from __future__ import annotations

import pytest

from hil.netconfig import Keyfile, validate

WIFI = """[connection]
id=lab
type=wifi

[wifi]
mode=infrastructure
ssid=hil-lab

[wifi-security]
key-mgmt=wpa-psk
psk={psk}

[ipv4]
method=auto
"""


def test_valid_file_has_no_errors() -> None:
    report = validate(WIFI.format(psk="lab-passphrase"), "lab")
    assert report.valid and report.errors == [] and report.warnings == []


@pytest.mark.parametrize("psk", ["short", "x" * 65, "g" * 64])
def test_bad_psk_names_line_and_key_but_not_the_secret(psk: str) -> None:
    report = validate(WIFI.format(psk=psk), "lab")
    assert not report.valid
    (issue,) = report.errors
    assert issue.line == 11 and issue.key == "psk" and issue.section == "wifi-security"
    text = str(issue)
    assert text.startswith("line 11: [wifi-security] psk: expected 8 to 63 characters")
    assert psk not in text
    assert psk not in "\n".join(report.lines())


def test_unreadable_secret_is_not_echoed() -> None:
    report = validate(WIFI.format(psk="pass\\qword99"), "lab")
    assert not report.valid
    assert all("pass" not in str(i) for i in report.errors)


def test_crlf_is_accepted_and_bom_rejected() -> None:
    text = WIFI.format(psk="lab-passphrase")
    assert validate(text.replace("\n", "\r\n"), "lab").valid
    report = validate("\ufeff" + text, "lab")
    assert not report.valid
    assert report.errors[0].line == 1
    assert "byte-order mark" in report.errors[0].message


def test_unknown_and_legacy_keys_are_warnings() -> None:
    text = WIFI.format(psk="lab-passphrase").replace(
        "ssid=hil-lab\n", "ssid=hil-lab\nsecurity=802-11-wireless-security\nhiden=true\n"
    )
    report = validate(text, "lab")
    assert report.valid
    messages = [str(w) for w in report.warnings]
    assert any(m.startswith("line 8: [wifi] security: legacy key") for m in messages)
    assert any("line 9: [wifi] hiden: unknown key" in m and "'hidden'" in m for m in messages)


def test_dropped_dns_entry_is_an_error() -> None:
    text = WIFI.format(psk="lab-passphrase") + "dns=8.8.8.8;8.8.8;\n"
    (issue,) = validate(text, "lab").errors
    assert issue.key == "dns" and "'8.8.8'" in issue.message and "drops" in issue.message


def test_ignore_file_is_reported() -> None:
    report = validate(WIFI.format(psk="lab-passphrase"), "system-connections/resin-sample.ignore")
    assert report.valid
    assert any("not loaded" in w.message for w in report.warnings)


def test_hotspot_needs_method_shared() -> None:
    text = WIFI.format(psk="hotspot-pass").replace("mode=infrastructure", "mode=ap")
    (issue,) = validate(text, "hotspot").errors
    assert (issue.section, issue.key) == ("ipv4", "method")
    assert validate(text.replace("method=auto", "method=shared"), "hotspot").valid


def test_missing_section_is_located_at_the_type_line() -> None:
    report = validate("[connection]\nid=x\ntype=wifi\n", "x")
    assert [(i.line, i.key) for i in report.errors] == [(3, "type")]


def test_validate_takes_a_parsed_keyfile() -> None:
    kf = Keyfile.parse(WIFI.format(psk="lab-passphrase"))
    assert validate(kf, "lab").valid
    kf.set("wifi", "band", "a")
    kf.set("wifi", "channel", 6)
    (issue,) = validate(kf, "lab").errors
    assert issue.key == "channel" and "band a" in issue.message


def test_sim_api_report_shape() -> None:
    report = validate(WIFI.format(psk="short"), "x")
    assert report.as_json() == {
        "path": "x",
        "valid": False,
        "errors": ["line 11: [wifi-security] psk: expected 8 to 63 characters or 64 hex "
                   "digits, got 5 characters"],
        "warnings": [],
    }  # fmt: skip
