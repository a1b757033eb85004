"""The bundle round trip: collect from a simulated board, check, repro on a simulated
board built from the bundle — the fault the bundle's files cause comes back, and
does not with the right files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hil.board import Board
from hil.flash import flash
from hil.lab import load_lab
from hil.repro.bundle import Bundle, load_bundle
from hil.repro.check import check_bundle
from hil.repro.collect import collect
from hil.repro.repro import repro
from hil.repro.simlab import build_sim_lab
from hil.usb.board import BoardUsb
from tests.conftest import REPO

LAB_PSK = "hil-lab-passphrase"
WRONG_PSK = "not-the-lab-passphrase"

LAB = """\
name: field-lab-{tag}
boards:
  - name: field-{tag}
    device_type: raspberrypi4-64
    console: {{url: "sim://field-{tag}"}}
    power: {{driver: sim}}
    wifi:
      - {{name: lab-wpa2, ssid: hil-lab, security: wpa-psk, psk: {lab_psk}}}
    flash:
      connections: [{connection}]
    sim:
      os_release: "2.113.4"
      hostname: f1e1d{tag}
      networks:
        - {{ssid: hil-lab, security: wpa-psk, psk: {lab_psk}, channel: 6}}
        - {{ssid: hil-open, security: none, channel: 1}}
"""

RESIN_WIFI = """\
[connection]
id=resin-wifi
type=wifi

[wifi]
hidden=true
mode=infrastructure
ssid=hil-lab

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto

[wifi-security]
auth-alg=open
key-mgmt=wpa-psk
psk={psk}
"""


def _field_board(tmp_path: Path, tag: str, psk: str) -> tuple[Board, str]:
    """A simulated board flashed with a resin-wifi that has `psk` (as in the field)."""
    conn = tmp_path / "resin-wifi"
    conn.write_text(RESIN_WIFI.format(psk=psk))
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(LAB.format(tag=tag, lab_psk=LAB_PSK, connection=conn))
    lab = load_lab(lab_file)
    board = Board(lab, lab.boards[0])
    assert flash(board, "2.113.4") == "2.113.4"
    return board, lab.name


def _collect(tmp_path: Path, tag: str, psk: str, redact: bool = False) -> Bundle:
    board, lab_name = _field_board(tmp_path, tag, psk)
    with board.open_shell() as shell:
        bundle = collect(shell, board.config, lab=lab_name, redact=redact)
    return load_bundle(bundle.write(tmp_path / "bundle.tar.gz"))


def _bundle_verdict(result) -> dict[str, str]:
    return {
        k.split("[")[1].split("-")[0]: v["outcome"]
        for k, v in result.outcomes.items()
        if "bundle_suite" in k
    }


def test_round_trip_reproduces_a_wrong_psk(tmp_path: Path) -> None:
    bundle = _collect(tmp_path, "a", WRONG_PSK)
    # collected: the file as it is on the board, the surroundings, the release
    assert WRONG_PSK.encode() in bundle.files["system-connections/resin-wifi"]
    assert bundle.device.os_release == "2.113.4"
    assert {n.ssid: n.psk for n in bundle.device.networks or []}["hil-lab"] == LAB_PSK
    # checked: the passphrase does not fit the network, before any board is touched
    report = check_bundle(bundle)
    assert any("psk differs" in str(w) for w in report.device.warnings)
    # reproduced on a simulated board built from the bundle
    result = repro(bundle, out_dir=tmp_path / "out")
    assert result.target.built
    red = result.red
    assert _bundle_verdict(result) == {"resin": "failed"}, result.outcomes
    reason = next(v["reason"] for k, v in red.items() if "bundle_suite" in k)
    assert "Secrets were required" in reason
    report_text = (tmp_path / "out" / "report.txt").read_text()
    assert "reproduced" in report_text
    # no secret of the bundle reaches the report, the transcripts or the lab config
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            text = f.read_text(errors="replace")
            assert WRONG_PSK not in text, f
            assert LAB_PSK not in text, f


def test_round_trip_with_the_right_psk_is_not_red(tmp_path: Path) -> None:
    bundle = _collect(tmp_path, "b", LAB_PSK)
    assert check_bundle(bundle).device.warnings == []
    result = repro(bundle, out_dir=tmp_path / "out")
    assert _bundle_verdict(result) == {"resin": "passed"}, result.outcomes
    assert not result.red, result.outcomes


def test_redacted_bundle_keeps_no_secret_and_says_what_it_assumed(tmp_path: Path) -> None:
    bundle = _collect(tmp_path, "c", WRONG_PSK, redact=True)
    for path, data in bundle.files.items():
        assert WRONG_PSK.encode() not in data, path
        assert LAB_PSK.encode() not in data, path
    assert "system-connections/resin-wifi: wifi-security.psk" in bundle.device.redacted
    sim = build_sim_lab(bundle)
    assert any("passphrase of 'hil-lab' is not in device.yaml" in a for a in sim.assumptions)


def test_sim_lab_from_a_cellular_bundle() -> None:
    bundle = load_bundle(REPO / "fixtures" / "bundles" / "cellular-sim-missing")
    board = build_sim_lab(bundle).board
    assert board.sim is not None
    modem = board.sim.modems[0]
    assert (modem.vid_pid, modem.sim, modem.apn) == ("2c7c:0125", "missing", "giffgaff.com")
    assert board.modems[0].model == "Quectel EC25"
    assert board.modems[0].apn == "giffgaff.com"
    assert board.sim.os_release == "2.108.27"
    text, env = build_sim_lab(bundle).to_yaml()
    assert "password" not in env.values() or "${env:" in text
    assert ": password\n" not in text


def test_cli_repro_exit_status_and_usage(tmp_path: Path, hil_cmd: list[str]) -> None:
    bundle = REPO / "fixtures" / "bundles" / "wifi-wrong-psk"
    r = subprocess.run(
        [*hil_cmd, "repro", str(bundle), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "WiFi authentication failure (lab fault wrong-psk)" in r.stdout
    assert "FAILED   bundle: test_bundle_connection_comes_up[resin-wifi" in r.stdout
    assert "Secrets were required" in r.stdout
    assert "office-passphrase" not in r.stdout + r.stderr
    r = subprocess.run(
        [*hil_cmd, "repro", str(bundle), "--board", "x"], capture_output=True, text=True
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("board", ["pi4-a"])
def test_repro_on_a_lab_board_as_asked(tmp_path: Path, board: str) -> None:
    """`--lab/--board`: the lab's board gets the bundle's files (flashed with its release)."""
    bundle = load_bundle(REPO / "fixtures" / "bundles" / "wifi-wrong-psk")
    lab_path = str(REPO / "lab-config" / "sim.yaml")
    result = repro(bundle, lab=load_lab(lab_path), lab_path=lab_path, board=board,
                   out_dir=tmp_path / "out")  # fmt: skip
    assert not result.target.built
    # the lab has no site-office network: the bundle's connection cannot come up there
    assert _bundle_verdict(result) == {"resin": "failed"}, result.outcomes


def test_collect_finds_the_modem_by_its_port_and_check_sees_storage_mode() -> None:
    """pi4-a's E3372 (sim: a USB device on the real usb-modeswitch-data model): collected
    at its port with its VID:PID; stuck in storage mode, `check` says so first."""
    lab = load_lab(REPO / "lab-config" / "sim.yaml")
    board = Board(lab, lab.board("pi4-a"))
    lab_modem = board.config.modems[0]
    with board.lab.fault("modem-stuck-in-storage-mode"):
        board.power_cycle()
        with board.open_shell() as shell:
            stuck = collect(shell, board.config, lab=lab.name)
    board.power_cycle()
    with board.open_shell() as shell:
        # as on a real board: the shell answers before usb_modeswitch has switched the modem
        BoardUsb(shell, shell.name).wait_for(lab_modem.usb_path, mode="modem", timeout=30)
        switched = collect(shell, board.config, lab=lab.name)
    found = []
    for bundle in (stuck, switched):
        (modem,) = [m for m in bundle.device.modems if m.usb_path == lab_modem.usb_path]
        assert (modem.model, modem.apn) == (lab_modem.model, lab_modem.apn)
        found.append(modem)
    assert found[0].vid_pid == "12d1:1f01"
    assert found[1].vid_pid not in (None, "12d1:1f01")
    findings = check_bundle(stuck).findings
    assert findings and findings[0].signature.fault == "modem-stuck-in-storage-mode"
    assert "12d1:1f01, a storage-mode id" in findings[0].text
    assert not [f for f in check_bundle(switched).findings if f.file == "device.yaml"]


def test_cli_collect_redacted_keeps_no_lab_secret(tmp_path: Path, hil_cmd: list[str]) -> None:
    out = tmp_path / "b.tar.gz"
    r = subprocess.run(
        [*hil_cmd, "bundle", "collect", "--lab", str(REPO / "lab-config" / "sim.yaml"),
         "--board", "pi4-a", "--redact", "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "secrets redacted" in r.stdout
    bundle = load_bundle(out)
    blob = b"".join(bundle.files.values()) + str(bundle.device.model_dump()).encode()
    for secret in ("hil-lab-passphrase", "hil-hidden-pass", "hil-eap-pass"):
        assert secret.encode() not in blob
    assert bundle.device.networks and all(n.psk is None for n in bundle.device.networks)
    assert "resin-sample.ignore" not in " ".join(bundle.files)
    r = subprocess.run(
        [*hil_cmd, "bundle", "collect", "--lab", str(REPO / "lab-config" / "sim.yaml"),
         "--board", "nope"], capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 2 and "no board named 'nope'" in r.stderr


def test_a_signature_in_the_logs_becomes_the_sim_boards_lab_fault(tmp_path: Path) -> None:
    """A bundle whose files are fine but whose journal shows DHCP timing out: the
    simulated board gets `dhcp-timeout`, and the wired connection fails as in the field."""
    b = load_bundle(REPO / "fixtures" / "bundles" / "wifi-wrong-psk")
    del b.files["system-connections/resin-wifi"]
    b.device = b.device.model_copy(update={"ethernet": True})
    b.files["journal.log"] = (
        b"Nov 20 09:15:47 7c0ffee NetworkManager[812]: <warn>  [1700471747.1102] "
        b"dhcp4 (eth0): request timed out\n"
    )
    result = repro(b, out_dir=tmp_path / "out")
    assert result.target.board.faults == ["dhcp-timeout"]
    assert any("dhcp-timeout on from boot" in a for a in result.target.assumptions)
    # the ethernet tests that need DHCP fail (a static address does not need it)
    eth = {k: v for k, v in result.outcomes.items() if "test_default_wired_connection" in k}
    assert eth and all(v["outcome"] == "failed" for v in eth.values()), eth
    plain = repro(b, out_dir=tmp_path / "plain", triage_as_faults=False)
    assert plain.target.board.faults == []
    assert not plain.red, plain.outcomes


def test_repro_of_the_bundle_only(tmp_path: Path, hil_cmd: list[str]) -> None:
    bundle = REPO / "fixtures" / "bundles" / "wifi-wrong-psk"
    r = subprocess.run(
        [*hil_cmd, "repro", str(bundle), "--suite", "none", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    outcomes = json.loads((tmp_path / "out" / "outcomes.json").read_text())
    assert outcomes and all("bundle_suite" in k for k in outcomes), outcomes
    r = subprocess.run(
        [*hil_cmd, "repro", str(bundle), "--suite", "nope"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "unknown suite nope" in r.stderr


def test_a_matching_board_of_the_lab_is_chosen_else_a_simulated_one() -> None:
    from hil.repro.repro import choose_target

    lab_path = str(REPO / "lab-config" / "sim.yaml")
    lab = load_lab(lab_path)
    cell = load_bundle(REPO / "fixtures" / "bundles" / "cellular-sim-missing")
    target = choose_target(cell, lab, None, lab_path)
    assert (target.board.name, target.built) == ("pi3-b", False)  # raspberrypi3 + EC25
    wifi = load_bundle(REPO / "fixtures" / "bundles" / "wifi-wrong-psk")
    wifi.device = wifi.device.model_copy(update={"device_type": "fincm3"})
    target = choose_target(wifi, lab, None, lab_path)
    assert target.built and f"no board of {lab_path} matches" in target.why
    target = choose_target(cell, lab, "pi4-a", lab_path)
    assert not target.built and "it differs: device type raspberrypi4-64" in target.why


CELL_LAB = """\
name: cell-lab-{tag}
boards:
  - name: cell-{tag}
    device_type: raspberrypi3
    console: {{url: "sim://cell-{tag}"}}
    power: {{driver: sim}}
    modems:
      - {{name: ec25, model: Quectel EC25, usb_path: "platform-3f980000.usb-usb-0:1.2",
         apn: giffgaff.com}}
    flash:
      connections: [{connection}]
    sim:
      os_release: "2.108.27"
      hostname: c0ffee{tag}
      modems:
        - {{name: ec25, vid_pid: "2c7c:0125", sim: ready, operator: giffgaff, signal: 55,
           apn: giffgaff.com, usb_path: "platform-3f980000.usb-usb-0:1.2"}}
"""

CELLULAR = """\
[connection]
id=cellular
type=gsm
autoconnect=true

[gsm]
apn={apn}

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto
"""


@pytest.mark.parametrize(("apn", "red"), [("internet", True), ("giffgaff.com", False)])
def test_round_trip_of_a_cellular_connection(tmp_path: Path, apn: str, red: bool) -> None:
    """A gsm connection with an APN the operator's network refuses: collected (the
    modem at its port, the APN the lab's SIM needs), checked, and reproduced on a
    simulated board; with the right APN, nothing is red."""
    tag = "w" if red else "r"
    conn = tmp_path / "cellular"
    conn.write_text(CELLULAR.format(apn=apn))
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(CELL_LAB.format(tag=tag, connection=conn))
    lab = load_lab(lab_file)
    board = Board(lab, lab.boards[0])
    flash(board, "2.108.27")
    with board.open_shell() as shell:
        bundle = collect(shell, board.config, lab=lab.name)
    (modem,) = bundle.device.modems
    assert (modem.model, modem.apn) == ("Quectel EC25", "giffgaff.com")
    warned = any(
        "operator's network accepts" in str(w) for w in check_bundle(bundle).device.warnings
    )
    assert warned == red
    result = repro(bundle, out_dir=tmp_path / "out", suites=[])
    verdicts = {k: v for k, v in result.outcomes.items() if "bundle_suite" in k}
    assert verdicts, result.outcomes
    assert all((v["outcome"] == "failed") == red for v in verdicts.values()), verdicts
    if red:
        reason = next(iter(verdicts.values()))["reason"]
        assert "connection 'cellular' does not come up" in reason, reason
