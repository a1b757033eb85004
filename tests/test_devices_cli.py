"""`hil devices` on a board over its console, and the sim shell's `timeout` and `grep -m`."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import SIM_LAB
from tests.test_usb_sim import Sh, world_of


def test_hil_devices_on_a_sim_board_lists_its_modem_by_port(hil_cmd):
    r = subprocess.run(
        [*hil_cmd, "devices", "--board", "pi3-b", "--lab", str(SIM_LAB), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {
            "id_path": "platform-3f980000.usb-usb-0:1.2",
            "vid": "2c7c",
            "pid": "0125",
            "kind": "modem",
            "mode": "modem",
            "drivers": ["option", "qmi_wwan"],
            "ttys": [
                "/dev/ttyUSB0",
                "/dev/ttyUSB1",
                "/dev/ttyUSB2",
                "/dev/ttyUSB3",
                "/dev/cdc-wdm0",
            ],
            "net": ["wwan0"],
        }
    ]


def test_lab_without_board_is_a_usage_error(hil_cmd):
    r = subprocess.run([*hil_cmd, "devices", "--lab", str(SIM_LAB)], capture_output=True, text=True)
    assert r.returncode == 2 and "--lab only goes with --board" in r.stderr


def test_timeout_and_grep_m_in_the_sim_shell():
    from hil.lab import load_lab

    sh = Sh(world_of(load_lab(SIM_LAB, env={}).board("pi3-b")))
    assert sh("timeout 0.1 sleep 5; echo $?") == ("124\n", 0)
    assert sh("timeout 5 echo quick") == ("quick\n", 0)
    assert sh("printf 'a1\\nb\\na2\\na3\\n' | grep -m 2 a") == ("a1\na2\n", 0)
    assert sh("timeout 1 nosuchcmd")[1] == 127
