"""Field bundles: reading, checking, redaction, triage; bad bundles get one clear line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from hil.lab.secrets import MASK, REDACTOR
from hil.repro.bundle import REDACTED, Bundle, BundleError, Device, load_bundle
from hil.repro.check import check_bundle
from hil.repro.collect import modem_from_mmcli, security_of
from hil.repro.configured import areas, connections
from hil.repro.secrets import bundle_secrets, redact_bundle
from hil.repro.triage import triage
from tests.conftest import REPO

BUNDLES = REPO / "fixtures" / "bundles"
WIFI = BUNDLES / "wifi-wrong-psk"
CELL = BUNDLES / "cellular-sim-missing"


def _copy_with_manifest(src: Path, dst: Path) -> Path:
    """A fixture bundle written back by hil (so it carries a `files:` manifest)."""
    return load_bundle(src).write(dst)


# -- reading ------------------------------------------------------------------------
def test_directory_bundle_reads() -> None:
    b = load_bundle(WIFI)
    assert b.device.device_type == "raspberrypi4-64"
    assert b.device.os_release == "2.113.4"
    assert set(b.connections()) == {"resin-wifi"}
    assert [c.ssid for c in connections(b)] == ["site-office"]
    assert areas(b) == ["wifi", "regdomain"]


def test_tar_round_trip_keeps_every_byte(tmp_path: Path) -> None:
    b = load_bundle(WIFI)
    b.files["system-connections/crlf"] = b"[connection]\r\nid=crlf\r\ntype=ethernet\r\n"
    tar = b.write(tmp_path / "field.tar.gz")
    again = load_bundle(tar)
    assert again.files == b.files
    assert again.device.files.keys() == b.files.keys()
    assert again.name == "field"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("no-device-yaml", "device.yaml missing"),
        ("missing-file", "partial bundle: system-connections/resin-wifi is listed"),
        ("changed-file", "corrupted bundle: config.json does not match its sha256"),
        ("bad-yaml", "device.yaml:3: not valid YAML"),
        ("bad-field", "device.yaml: modems.0.vid_pid: expected VVVV:PPPP"),
        ("wrong-format", "device.yaml: format: this hil reads bundle format 1, not 7"),
        ("missing-field", "device.yaml: os_release: Field required"),
    ],
)
def test_damaged_directory_is_one_clear_line(tmp_path: Path, damage: str, expected: str) -> None:
    root = _copy_with_manifest(WIFI, tmp_path / "b")
    device = root / "device.yaml"
    if damage == "no-device-yaml":
        device.unlink()
    elif damage == "missing-file":
        (root / "system-connections" / "resin-wifi").unlink()
    elif damage == "changed-file":
        (root / "config.json").write_text("{}\n")
    elif damage == "bad-yaml":
        device.write_text("format: 1\ndevice_type: [unclosed\n")
    else:
        data = yaml.safe_load(device.read_text())
        if damage == "bad-field":
            data["modems"] = [{"model": "EC25", "vid_pid": "2c7c-0125"}]
        elif damage == "wrong-format":
            data["format"] = 7
        else:
            del data["os_release"]
        device.write_text(yaml.safe_dump(data))
    with pytest.raises(BundleError) as e:
        load_bundle(root)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)
    assert str(root) in str(e.value)


def test_truncated_tar_is_one_clear_line(tmp_path: Path) -> None:
    tar = load_bundle(WIFI).write(tmp_path / "b.tar.gz")
    data = tar.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"cut\.tar\.gz: corrupted or truncated archive"):
        load_bundle(cut)


def test_tar_member_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(BundleError, match="points outside the bundle"):
        load_bundle(evil)


def test_not_a_bundle(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(BundleError, match="neither a directory nor a tar archive"):
        load_bundle(f)
    with pytest.raises(BundleError, match="no such bundle"):
        load_bundle(tmp_path / "nope")


@pytest.mark.parametrize("damage", ["missing-file", "no-bundle"])
def test_cli_check_of_a_bad_bundle_exits_2_with_one_line(
    tmp_path: Path, hil_cmd: list[str], damage: str
) -> None:
    root = _copy_with_manifest(WIFI, tmp_path / "b")
    if damage == "missing-file":
        (root / "config.json").unlink()
    else:
        shutil.rmtree(root)
    r = subprocess.run([*hil_cmd, "bundle", "check", str(root)], capture_output=True, text=True)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hil: "), r.stderr
    assert "Traceback" not in r.stderr


# -- checking -----------------------------------------------------------------------
def test_check_finds_the_wrong_psk_and_shows_triage_first() -> None:
    report = check_bundle(load_bundle(WIFI))
    assert report.valid  # the file is loadable: it is the passphrase that is wrong
    warnings = [str(w) for w in report.device.warnings]
    assert any("psk differs from the passphrase of 'site-office'" in w for w in warnings)
    assert [f.signature.fault for f in report.findings] == ["wrong-psk"]
    lines = report.lines()
    assert lines[1] == "known failure signatures in the logs:"
    assert "journal.log:6" in lines[2]


def test_check_reports_invalid_files_with_line_and_key(tmp_path: Path) -> None:
    b = load_bundle(WIFI)
    b.files["system-connections/resin-wifi"] = b.files["system-connections/resin-wifi"].replace(
        b"psk=office-passphrase-2023", b"psk=short"
    )
    b.files["config.json"] = b'{"country": "gb", "dnsServers": "8.8.8.8 not-an-ip"}'
    report = check_bundle(b)
    assert not report.valid
    text = "\n".join(report.lines())
    assert "system-connections/resin-wifi:" in text and "psk" in text
    assert "config.json" in text and "country" in text
    assert "short" not in text  # a secret, even a bad one, is never printed


def test_check_holds_files_against_the_surroundings(tmp_path: Path) -> None:
    b = load_bundle(CELL)
    b.files["system-connections/cellular"] = b.files["system-connections/cellular"].replace(
        b"apn=giffgaff.com", b"apn=internet"
    )
    warnings = [str(w) for w in check_bundle(b).device.warnings]
    assert any(
        "apn 'internet', but the operator's network accepts 'giffgaff.com'" in w for w in warnings
    )
    b = load_bundle(WIFI)
    b.device.networks = [n for n in b.device.networks or [] if n.ssid != "site-office"]
    warnings = [str(w) for w in check_bundle(b).device.warnings]
    assert any("SSID 'site-office' is not among the networks in range" in w for w in warnings)


def test_cli_check_json(hil_cmd: list[str]) -> None:
    r = subprocess.run(
        [*hil_cmd, "bundle", "check", "--json", str(CELL)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["valid"] is True
    assert data["triage"][0]["fault"] == "sim-missing"
    assert "password" not in r.stdout.replace('"password"', "")  # the gsm password is masked


def test_bundle_help_documents_the_format(hil_cmd: list[str]) -> None:
    r = subprocess.run([*hil_cmd, "bundle", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for word in ("device.yaml", "system-connections/", "system-proxy/", "journal.log",
                 "mmcli.txt", "files:"):  # fmt: skip
        assert word in r.stdout, word


# -- secrets ---------------------------------------------------------------------------
def test_redaction_removes_every_secret_and_the_bundle_still_checks() -> None:
    b = load_bundle(WIFI)
    secrets = bundle_secrets(b)
    assert {"office-passphrase-2023", "field-device-api-key-0123456789"} <= set(secrets)
    red = redact_bundle(b)
    blob = b"".join(red.files.values()) + yaml.safe_dump(red.device.model_dump()).encode()
    for s in [*secrets, "office-passphrase-2024"]:
        assert s.encode() not in blob
    assert REDACTED.encode() in red.files["system-connections/resin-wifi"]
    assert "system-connections/resin-wifi: wifi-security.psk" in red.device.redacted
    assert "config.json: apiKey" in red.device.redacted
    report = check_bundle(red)
    assert report.valid
    assert "system-connections/resin-wifi: 802-11-wireless-security.psk" in report.not_checked


def test_triage_evidence_is_redacted() -> None:
    REDACTOR.add("office-passphrase-2023")
    found = triage(
        {"journal.log": "wpa_supplicant: 4-Way Handshake failed (psk office-passphrase-2023)\n"},
        redact=["office-passphrase-2023"],
    )
    assert found and "office-passphrase-2023" not in found[0].text
    assert MASK in found[0].text


# -- triage on real tool output ------------------------------------------------------------
@pytest.mark.parametrize(
    ("fixture", "fault"),
    [
        ("modem-failed-sim-missing.K.txt", "sim-missing"),
        ("modem-locked.K.txt", "sim-locked"),
        ("error-connect-wrong-apn.txt", "wrong-apn"),
        ("modem-searching.K.txt", "no-registration"),
    ],
)
def test_triage_recognises_real_mmcli_output(fixture: str, fault: str) -> None:
    text = (REPO / "fixtures" / "mmcli" / fixture).read_text()
    found = triage({"mmcli.txt": text})
    assert found, f"nothing recognised in {fixture}"
    assert found[0].signature.fault == fault


def test_triage_finds_nothing_in_a_healthy_modem() -> None:
    text = (REPO / "fixtures" / "mmcli" / "modem-connected.K.txt").read_text()
    assert triage({"mmcli.txt": text}) == []


def test_modem_from_real_mmcli_output() -> None:
    text = (REPO / "fixtures" / "mmcli" / "modem-failed-sim-missing.K.txt").read_text()
    m = modem_from_mmcli(text, ["1d6b:0002", "12d1:1506"])
    assert m is not None
    assert (m.model, m.vid_pid, m.sim, m.firmware) == (
        "huawei E3372",
        "12d1:1506",
        "missing",
        "22.315.01.00.00",
    )


def test_security_words_of_nmcli_scans() -> None:
    assert security_of("WPA2") == "wpa-psk"
    assert security_of("WPA1 WPA2") == "wpa-psk"
    assert security_of("WPA2 802.1X") == "wpa-eap"
    assert security_of("") == "none"


def test_device_model_writes_what_it_reads(tmp_path: Path) -> None:
    b = Bundle("x", Device(device_type="raspberrypi3", os_release="2.108.27"), {})
    root = b.write(tmp_path / "x")
    assert load_bundle(root).device.device_type == "raspberrypi3"
