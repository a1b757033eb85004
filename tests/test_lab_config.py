"""Lab config: the DESIGN.md schema, every bad input a one-line error, secrets."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from hil.errors import ConfigError
from hil.lab import REDACTOR, load_lab
from hil.lab.secrets import MASK, collect_secret_values
from tests.conftest import SIM_LAB

GOOD = """\
name: t-lab
boards:
  - name: pi4-a
    device_type: raspberrypi4-64
    console:
      url: /dev/ttyUSB0
      baudrate: 115200
      username: root
      password: ${env:PI4A_PASSWORD}
    power: {driver: uhubctl, location: "1-1", port: 2}
    modems:
      - {name: e3372, model: Huawei E3372, usb_path: "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3", apn: internet}
    wifi:
      - {name: lab-wpa2, ssid: hil-lab, security: wpa-psk, psk: "${env:LAB_PSK}"}
"""

ENV = {"PI4A_PASSWORD": "s3cret-console-pw", "LAB_PSK": "lab-psk-from-env"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lab.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_sim_lab_loads_with_no_environment() -> None:
    lab = load_lab(SIM_LAB, env={})
    assert lab.name == "sim-lab"
    assert len(lab.boards) >= 2
    assert len({b.device_type for b in lab.boards}) >= 2
    releases = {b.sim.os_release for b in lab.boards if b.sim}
    assert len(releases) >= 2
    for b in lab.boards:
        assert b.is_sim and b.modems and b.wifi


def test_design_example_parses_and_resolves_env(tmp_path: Path) -> None:
    lab = load_lab(write(tmp_path, GOOD), env=ENV)
    b = lab.boards[0]
    assert b.console.password == "s3cret-console-pw"
    assert b.wifi[0].psk == "lab-psk-from-env"
    assert b.power and b.power.driver == "uhubctl" and b.power.port == 2
    assert b.modems[0].usb_path.endswith("usb-0:1.3")
    assert REDACTOR.redact("psk is lab-psk-from-env!") == f"psk is {MASK}!"
    assert "s3cret-console-pw" in REDACTOR.secrets


def test_literal_secrets_are_redacted_by_key() -> None:
    load_lab(SIM_LAB, env={})
    assert REDACTOR.redact("hil-lab-passphrase") == MASK
    assert REDACTOR.redact("x hil-eap-pass y") == f"x {MASK} y"


def test_secret_keys() -> None:
    data = {
        "a": {"psk": "p1x", "x-password": "p2xx", "pin": "1234", "name": "n"},
        "secrets": {"k": "deep-secret"},
        "l": [{"puk": "87654321"}],
    }
    assert sorted(collect_secret_values(data)) == sorted(
        ["p1x", "p2xx", "1234", "deep-secret", "87654321"]
    )


BAD = [
    (
        "unknown key",
        GOOD.replace("baudrate: 115200", "baudrate: 115200\n      speed: 9"),
        r"lab.yaml:\d+: boards\[0\] \(pi4-a\).console.speed: unknown key",
    ),
    (
        "wrong type",
        GOOD.replace("baudrate: 115200", "baudrate: fast"),
        r"boards\[0\] \(pi4-a\).console.baudrate: .*integer.*'fast'",
    ),
    (
        "missing key",
        GOOD.replace("    device_type: raspberrypi4-64\n", ""),
        r"boards\[0\] \(pi4-a\).device_type: required key is missing",
    ),
    ("duplicate board", GOOD + GOOD.split("boards:\n", 1)[1], r"duplicate board name 'pi4-a'"),
    (
        "missing env",
        GOOD.replace("PI4A_PASSWORD", "NOT_SET_ANYWHERE"),
        r"lab.yaml:9: boards\[0\] \(pi4-a\).console.password: environment variable "
        r"NOT_SET_ANYWHERE is not set",
    ),
    (
        "unknown fault",
        GOOD.replace("    power:", "    faults: [wrong-apn, cosmic-rays]\n    power:"),
        r"boards\[0\] \(pi4-a\).faults: unknown fault 'cosmic-rays'",
    ),
    ("bad url", GOOD.replace("url: /dev/ttyUSB0", "url: ftp://x"), r"console.url: expected"),
    (
        "uhubctl without port",
        GOOD.replace(", port: 2", ""),
        r"driver uhubctl needs location and port",
    ),
    (
        "psk missing",
        GOOD.replace(', psk: "${env:LAB_PSK}"', ""),
        r"wifi\[0\] \(lab-wpa2\).*needs psk",
    ),
    ("invalid yaml", GOOD.replace("name: t-lab", "name: [t-lab"), r"lab.yaml:\d+: invalid YAML"),
    ("not a mapping", "- a\n- b\n", r"expected a mapping"),
    ("no boards", "name: x\nboards: []\n", r"boards: .*at least 1"),
]


@pytest.mark.parametrize(("case", "text", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_line(tmp_path: Path, case: str, text: str, pattern: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_lab(path, env=ENV)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    assert __import__("re").search(pattern, msg), msg


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="lab config not found"):
        load_lab("/nonexistent/lab.yaml")


def test_cli_reports_config_error_with_exit_2(tmp_path: Path, hil_cmd: list[str]) -> None:
    path = write(tmp_path, GOOD.replace("baudrate: 115200", "baudrate: fast"))
    r = subprocess.run(
        [*hil_cmd, "exec", "--lab", str(path), "--board", "pi4-a", "--", "true"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **ENV},
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "console.baudrate" in r.stderr


def test_cli_never_prints_an_env_secret(tmp_path: Path, hil_cmd: list[str]) -> None:
    bad = GOOD.replace("baudrate: 115200", "baudrate: ${env:PI4A_PASSWORD}")
    path = write(tmp_path, bad)
    r = subprocess.run(
        [*hil_cmd, "exec", "--lab", str(path), "--board", "pi4-a", "--", "true"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **ENV},
    )
    assert r.returncode == 2
    assert "s3cret-console-pw" not in r.stderr + r.stdout


def test_power_command_keys_on_and_off_are_not_booleans(tmp_path: Path) -> None:
    # YAML 1.1 would read `on:`/`off:` as True/False; the lab config is YAML 1.2 here
    text = GOOD.replace(
        '{driver: uhubctl, location: "1-1", port: 2}',
        '{driver: command, on: "pdu 3 on", off: "pdu 3 off"}',
    )
    lab = load_lab(write(tmp_path, text), env=ENV)
    power = lab.boards[0].power
    assert power is not None and (power.on, power.off) == ("pdu 3 on", "pdu 3 off")


def test_example_physical_lab_is_valid() -> None:
    from tests.conftest import REPO

    env = {"PI4_PASSWORD": "console-pw", "LAB_PSK": "lab-psk-123", "LAB_EAP_PASSWORD": "eap-pw-1"}
    env |= {
        "LAB_HIDDEN_PSK": "hidden-psk-1",
        "LAB_EDUROAM_PASSWORD": "eduroam-pw-1",
        "LAB_PRIO_PSK": "prio-psk-123",
        "HOTSPOT_PSK": "hotspot-psk-1",
    }
    lab = load_lab(REPO / "lab-config" / "example-physical.yaml", env=env)
    rig2 = lab.board("pi3-rig2")
    assert rig2.sd_mux is not None and rig2.lab_side is not None and lab.releases is not None
