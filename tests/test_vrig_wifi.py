"""The virtual rig's WiFi lab as the host hands it to the guest (hil/vrig/wifi.py):
hostapd configurations per lab network and per fault, the RADIUS certificates
(checked with the real openssl), the tar busybox unpacks in the guest, and
QEMU's firmware-configuration file that carries it."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from hil.board.wifi_client import VrigWifiClient
from hil.errors import ConfigError
from hil.lab import load_lab
from hil.lab.models import WifiConfig
from hil.vrig.build import build
from hil.vrig.options import qemu_options
from hil.vrig.vm import VirtualBoard, qemu_command
from hil.vrig.wifi import FW_CFG_NAME, AccessPoint, WifiLab

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "lab-config" / "vrig.yaml"


def vrig_lab() -> WifiLab:
    lab = WifiLab.of(load_lab(LAB).boards[0], LAB)
    assert lab is not None
    return lab


def conf(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_every_network_of_the_vrig_lab_is_an_access_point() -> None:
    lab = vrig_lab()
    assert [ap.iface for ap in lab.aps] == [f"ap{i}" for i in range(8)]
    assert lab.radios == 1 + 8 + 1  # wlan0, the APs, the hotspot client
    preferred = lab.preferred()
    assert preferred is not None and preferred.net.name == "lab-prio-hi"
    env = dict(line.split("=", 1) for line in lab.env().splitlines())
    assert env == {
        "RADIOS": "10",
        "APS": "'ap0 ap1 ap2 ap3 ap4 ap5 ap6 ap7'",
        "CLIENT": "sta0",
        "PREFERRED": "ap5",
    }
    files = lab.files()
    by_ssid = {conf(files[f"{ap.iface}.conf"].decode())["ssid2"]: ap for ap in lab.aps}
    assert set(by_ssid) == {f'"{ap.net.ssid}"' for ap in lab.aps}
    for ap in lab.aps:
        c = conf(files[f"{ap.iface}.conf"].decode())
        assert "country_code" not in c  # the lab must not set the board's domain
        assert c["channel"] == str(ap.net.channel)
        assert c["bridge"] == "wlab"


def test_security_of_each_kind() -> None:
    files = vrig_lab().files()
    psk = conf(files["ap0.conf"].decode())
    assert (psk["wpa_key_mgmt"], psk["wpa_passphrase"]) == ("WPA-PSK", "hil-lab-passphrase")
    assert psk["bssid"] == "02:00:5e:10:00:06"
    hidden = conf(files["ap1.conf"].decode())
    assert hidden["ignore_broadcast_ssid"] == "1" and "send_probe_response" not in hidden
    open_ = conf(files["ap2.conf"].decode())
    assert "wpa" not in open_ and "wpa_passphrase" not in open_
    eap = conf(files["ap3.conf"].decode())
    assert (eap["wpa_key_mgmt"], eap["ieee8021x"], eap["eap_server"]) == ("WPA-EAP", "1", "1")
    assert files["ap3.eap_user"].decode() == '* PEAP\n"hil-user" MSCHAPV2 "hil-eap-pass" [2]\n'


def test_fault_variants_exist_where_the_fault_changes_the_ap() -> None:
    lab = vrig_lab()
    files = lab.files()
    variants = {name for name in files if name.count(".") == 2 and name.endswith(".conf")}
    assert variants == {
        "ap0.wrong-psk.conf", "ap1.wrong-psk.conf", "ap5.wrong-psk.conf", "ap6.wrong-psk.conf",
        "ap7.wrong-psk.conf", "ap1.hidden-ssid-not-broadcast.conf",
        "ap3.enterprise-auth-fails.conf", "ap4.enterprise-auth-fails.conf",
        "ap3.ca-cert-mismatch.conf", "ap4.ca-cert-mismatch.conf",
    }  # fmt: skip
    wrong = conf(files["ap0.wrong-psk.conf"].decode())["wpa_passphrase"]
    assert wrong != "hil-lab-passphrase" and 8 <= len(wrong) <= 63
    assert conf(files["ap1.hidden-ssid-not-broadcast.conf"].decode())["send_probe_response"] == "0"
    refusing = conf(files["ap3.enterprise-auth-fails.conf"].decode())
    assert refusing["eap_user_file"].endswith("/ap3.eap_user.wrong")
    assert "hil-eap-pass" not in files["ap3.eap_user.wrong"].decode().split('"')[3:4]
    mismatch = conf(files["ap4.ca-cert-mismatch.conf"].decode())
    assert mismatch["server_cert"].endswith("/other.pem")


def _verify(tmp_path: Path, ca: bytes, cert: bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "ca.pem").write_bytes(ca)
    (tmp_path / "cert.pem").write_bytes(cert)
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem")],
        capture_output=True, text=True,
    )  # fmt: skip


def test_radius_certificates_chain_to_the_lab_config_ca(tmp_path: Path) -> None:
    """eduroam's server chains to the lab config's ca_cert (the file the suite installs
    on the board); the ca-cert-mismatch server does not; the other EAP network has a
    CA of its own."""
    files = vrig_lab().files()
    lab_ca = (REPO / "fixtures" / "wifi" / "vrig-radius-ca.pem").read_bytes()
    assert files["ap4-ca.pem"] == lab_ca
    assert _verify(tmp_path, lab_ca, files["ap4.pem"]).returncode == 0
    refused = _verify(tmp_path, lab_ca, files["other.pem"])
    assert (
        refused.returncode != 0 and "unable to get local issuer" in refused.stdout + refused.stderr
    )
    assert _verify(tmp_path, files["ap3-ca.pem"], files["ap3.pem"]).returncode == 0
    assert _verify(tmp_path, lab_ca, files["ap3.pem"]).returncode != 0


def test_a_ca_cert_without_its_key_is_one_line_naming_board_and_network(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    shutil.copy(REPO / "fixtures" / "wifi" / "vrig-radius-ca.pem", ca)
    net = WifiConfig(
        name="edu", ssid="x", security="wpa-eap", eap="peap", identity="u", password="p",
        ca_cert=str(ca),
    )  # fmt: skip
    lab = WifiLab("vrig-z", [AccessPoint("ap0", net, 6)])
    with pytest.raises(ConfigError, match=r"^boards \(vrig-z\)\.wifi \(edu\)\.ca_cert: .*ca\.key"):
        lab.files()


def test_the_tar_unpacks_with_busybox_and_keeps_secrets_private(tmp_path: Path) -> None:
    lab = vrig_lab()
    path = lab.write(tmp_path / "wifi.tar")
    assert path.stat().st_mode & 0o077 == 0
    with tarfile.open(path) as tar:
        assert {m.mode for m in tar.getmembers()} == {0o600}
    out = tmp_path / "unpacked"
    out.mkdir()
    subprocess.run(["busybox", "tar", "-xf", str(path), "-C", str(out)], check=True)
    assert (out / "wifi.env").read_text().startswith("RADIOS=10\n")
    assert (out / "networks").read_text().splitlines()[4] == "ap4 lab-eduroam hil-eduroam"


def test_qemu_gets_the_wifi_lab_as_a_firmware_configuration_file(tmp_path: Path) -> None:
    board = load_lab(LAB).boards[0]
    wifi = WifiLab.of(board, LAB)
    assert wifi is not None
    vm = VirtualBoard(board.name, qemu_options(board), board.device_type, wifi=wifi)
    files = vm._fw_cfg()
    assert files[FW_CFG_NAME] == vm.control_dir / "wifi.tar" and files[FW_CFG_NAME].is_file()
    cmd = qemu_command(build(), qemu_options(board), 4321, tmp_path / "boot.img", fw_cfg=files)
    assert f"name={FW_CFG_NAME},file={vm.control_dir / 'wifi.tar'}" in cmd
    assert cmd[cmd.index("-nic") + 1] == "none"
    no_wifi = VirtualBoard(board.name, qemu_options(board), board.device_type)
    assert FW_CFG_NAME not in no_wifi._fw_cfg()


def test_a_board_without_wifi_has_no_wifi_lab() -> None:
    board = load_lab(LAB).boards[0].model_copy(update={"wifi": [], "hotspot": None})
    assert WifiLab.of(board) is None


GUEST_WIFI = REPO / "hil" / "vrig" / "guest" / "hil-vrig-wifi"


def _guest_wifi(run: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HIL_VRIG_WIFI_RUN": str(run)}
    return subprocess.run(
        ["dash", str(GUEST_WIFI), *args], input=stdin, capture_output=True, text=True, env=env
    )


def test_guest_faults_before_the_wifi_lab_starts_are_kept_for_it(tmp_path: Path) -> None:
    """The lab restores its faults before the WiFi lab exists (early in boot): the
    script records them, and `start` brings the APs up as they say."""
    run = tmp_path / "wifi"
    assert _guest_wifi(run, "fault", "ap-down", "on").returncode == 0
    assert _guest_wifi(run, "fault", "wrong-psk", "on").returncode == 0
    assert _guest_wifi(run, "fault", "ap-down", "off").returncode == 0
    assert (run / "faults").read_text() == "wrong-psk\n"
    other = _guest_wifi(run, "fault", "dns-blocked", "on")
    assert other.returncode == 3 and "not a WiFi fault" in other.stdout
    assert _guest_wifi(run, "fault", "ap-down", "sideways").returncode == 2


def test_guest_client_without_a_radio_says_so_in_one_json_line(tmp_path: Path) -> None:
    run = tmp_path / "wifi"
    run.mkdir()
    (run / "wifi.env").write_text("RADIOS=2\nAPS=ap0\nCLIENT=''\nPREFERRED=''\n")
    psk, ssid = "pa ss%w\\d", 'hil "hotspot"'
    said = _guest_wifi(run, "join-hex", ssid.encode().hex(), psk.encode().hex(), "5")
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout) == {
        "associated": False, "address": None, "gateway": None, "reached_board": False,
        "reason": "the lab has no hotspot client radio",
    }  # fmt: skip


def test_vrig_client_sends_hex_words_and_reads_the_guest_answer() -> None:
    asked: list[tuple[str, ...]] = []

    def ask(*words: str, timeout: float) -> str:
        asked.append(words)
        return (
            "noise\n"
            '{"associated": true, "address": "10.42.0.57/24", "gateway": "10.42.0.1", '
            '"reached_board": true, "reason": ""}\n'
        )

    seen = VrigWifiClient("vrig-a", ask).join("hil hotspot", "p=ss", timeout=30)
    assert asked == [("wifi-join", b"hil hotspot".hex(), b"p=ss".hex(), "30")]
    assert (seen.associated, seen.address, seen.reached_board) == (True, "10.42.0.57/24", True)
    assert str(seen.network) == "10.42.0.0/24"
    VrigWifiClient("vrig-a", ask).join("open", None)
    assert asked[-1][2] == "-"
