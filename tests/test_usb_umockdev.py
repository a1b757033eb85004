"""pyudev against umockdev testbeds of real modems, and the same testbeds through udevadm.

The recordings in fixtures/udev are written from real udevadm/lsusb output of
those devices (fixtures/udev/SOURCES.md). pyudev reads them under
`umockdev-run`; systemd's own `udevadm` reads the same testbed, and the board
side's parser must turn its output into the same model.
"""

from __future__ import annotations

import json
import sys

import pytest

from hil.probes.udevadm import parse_export_db
from hil.usb.board import INFO_COMMAND
from hil.usb.model import UdevTree
from tests.usb_umockdev import (
    PORT,
    SYS_HUB,
    needs_umockdev,
    python_under_testbed,
    umockdev_run,
)

pytestmark = [pytest.mark.real, needs_umockdev]

ALL = [
    "pi4-usb-hub.umockdev",
    "ch340-console.umockdev",
    "zte-mf636-storage.umockdev",
    "e3372h-hilink.umockdev",
    "ec25-qmi.umockdev",
]

HOST_DEVICES = """
import json
from hil.usb.host import HostUsb
print(json.dumps([[d.id_path, d.vid_pid, d.mode, d.kind, d.drivers, d.ttys, d.net]
                  for d in sorted(HostUsb().devices(), key=lambda d: d.devpath)]))
"""


def host_view(recordings):
    r = umockdev_run(recordings, sys.executable, "-c", HOST_DEVICES)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def udevadm_view(recordings, command):
    r = umockdev_run(recordings, "sh", "-c", command)
    assert r.returncode == 0, r.stderr
    devices = UdevTree(parse_export_db(r.stdout)).usb_devices()
    return [
        [d.id_path, d.vid_pid, d.mode, d.kind, d.drivers, d.ttys, d.net]
        for d in sorted(devices, key=lambda d: d.devpath)
    ]


EXPECTED = {
    "e3372h-storage.umockdev": ["1.3", "12d1:1f01", "storage", None, ["usb-storage"], [], []],
    "e3372h-hilink.umockdev": [
        "1.3",
        "12d1:14dc",
        "modem",
        "modem",
        ["cdc_ether", "usb-storage"],
        [],
        ["eth1"],
    ],
    "ec25-qmi.umockdev": [
        "1.4",
        "2c7c:0125",
        "modem",
        "modem",
        ["option", "qmi_wwan"],
        ["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2", "/dev/ttyUSB3", "/dev/cdc-wdm0"],
        ["wwan0"],
    ],
    "zte-mf636-storage.umockdev": ["1.2", "19d2:2000", "storage", None, ["usb-storage"], [], []],
    "zte-mf636-modem.umockdev": [
        "1.2",
        "19d2:0031",
        "modem",
        "modem",
        ["option", "usb-storage"],
        ["/dev/ttyUSB5", "/dev/ttyUSB6", "/dev/ttyUSB7"],
        [],
    ],
    "ch340-console.umockdev": [
        "1.1",
        "1a86:7523",
        "unknown",
        "console",
        ["ch341"],
        ["/dev/ttyUSB4"],
        [],
    ],
}


@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_pyudev_sees_each_recorded_modem_with_mode_drivers_and_ports(recording):
    devices = host_view(["pi4-usb-hub.umockdev", recording])
    # root hub and the Pi's own hub come first, the recorded device last
    assert [d[1] for d in devices[:2]] == ["1d6b:0002", "2109:3431"]
    want = list(EXPECTED[recording])
    want[0] = PORT.format(want[0])
    assert devices[2] == want


def test_udevadm_export_of_the_same_testbed_gives_the_same_model():
    """Two sources, one model: pyudev and systemd's udevadm (as a board runs it) agree."""
    host = host_view(ALL)
    assert len(host) == 6
    assert udevadm_view(ALL, "udevadm info --export-db") == host
    # the board's cheaper query (only USB devices, USB ttys, net and cdc-wdm) agrees too
    assert udevadm_view(ALL, INFO_COMMAND) == host


def test_hil_devices_json_lists_modems_and_consoles(hil_cmd):
    r = umockdev_run(
        [
            "pi4-usb-hub.umockdev",
            "ch340-console.umockdev",
            "e3372h-storage.umockdev",
            "ec25-qmi.umockdev",
        ],
        *hil_cmd,
        "devices",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [
        {
            "id_path": PORT.format("1.1"),
            "vid": "1a86",
            "pid": "7523",
            "kind": "console",
            "mode": None,
            "drivers": ["ch341"],
            "ttys": ["/dev/ttyUSB4"],
            "net": [],
        },
        # storage mode: a modem because usb-modeswitch-data can switch 12d1:1f01
        {
            "id_path": PORT.format("1.3"),
            "vid": "12d1",
            "pid": "1f01",
            "kind": "modem",
            "mode": "storage",
            "drivers": ["usb-storage"],
            "ttys": [],
            "net": [],
        },
        {
            "id_path": PORT.format("1.4"),
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
        },
    ]
    table = umockdev_run(["pi4-usb-hub.umockdev", "e3372h-hilink.umockdev"], *hil_cmd, "devices")
    assert "12d1:14dc  modem  modem  cdc_ether,usb-storage" in table.stdout


MODESWITCH = f"""
import json, threading, time
import pyudev
from hil.usb.host import HostUsb
from hil.usb.testbed import Testbed

tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev", "fixtures/udev/e3372h-storage.umockdev")
host = HostUsb()
port = "{PORT.format("1.3")}"
before = host.find(port)

monitor = pyudev.Monitor.from_netlink(pyudev.Context())
monitor.filter_by("usb")
monitor.filter_by("net")
monitor.start()
result = {{}}
def wait():
    d = host.wait_for(port, mode="modem", timeout=10)
    result["after"] = [d.vid_pid, d.mode, d.drivers, d.net, d.id_path]
waiter = threading.Thread(target=wait)
waiter.start()
time.sleep(0.3)
tb.unplug("{SYS_HUB}/1-1.3")       # usb_modeswitch sent the message: the storage device leaves
tb.plug("fixtures/udev/e3372h-hilink.umockdev")   # and re-enumerates at the same port
waiter.join(15)
events = []
while (e := monitor.poll(timeout=0.5)) is not None:
    events.append([e.action, e.sys_name, e.subsystem, e.properties.get("PRODUCT")])
print(json.dumps({{"before": [before.vid_pid, before.mode], "events": events, **result}}))
"""


def test_a_modeswitch_is_remove_then_add_at_the_same_port_and_wait_for_follows_it():
    out = python_under_testbed(MODESWITCH)
    assert out["before"] == ["12d1:1f01", "storage"]
    assert out["events"] == [
        ["remove", "1-1.3:1.0", "usb", "12d1/1f01/102"],
        ["remove", "1-1.3", "usb", "12d1/1f01/102"],
        ["add", "1-1.3", "usb", "12d1/14dc/102"],
        ["add", "1-1.3:1.0", "usb", "12d1/14dc/102"],
        ["add", "eth1", "net", None],
        ["add", "1-1.3:1.1", "usb", "12d1/14dc/102"],
        ["add", "1-1.3:1.2", "usb", "12d1/14dc/102"],
    ]
    # matched by port, not by id: the PID changed and wait_for still found it
    assert out["after"] == [
        "12d1:14dc",
        "modem",
        ["cdc_ether", "usb-storage"],
        ["eth1"],
        PORT.format("1.3"),
    ]


STUCK = f"""
import json
from hil.usb.host import HostUsb
from hil.usb.modeswitch import ModeswitchDb, stuck_in_storage
from hil.usb.testbed import Testbed
from hil.usb.wait import WaitTimeout

tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev", "fixtures/udev/e3372h-storage.umockdev")
host = HostUsb()
port = "{PORT.format("1.3")}"
try:
    host.wait_for(port, mode="modem", timeout=0.5)
    error = None
except WaitTimeout as e:
    error = str(e)
stuck = stuck_in_storage(host.find(port), ModeswitchDb.load())
tb.unplug("{SYS_HUB}/1-1.3")
gone = host.wait_for(port, gone=True, timeout=2)
print(json.dumps({{"error": error, "stuck": str(stuck), "gone": gone}}))
"""


def test_a_modem_stuck_in_storage_mode_times_out_with_what_was_seen():
    out = python_under_testbed(STUCK)
    assert out["error"].startswith(f"waited 0.5s for usb_path {PORT.format('1.3')} in modem mode")
    assert "12d1:1f01 (storage; usb-storage)" in out["error"]
    assert out["stuck"] == (
        f"modem at {PORT.format('1.3')} is stuck in storage mode as 12d1:1f01: usb_modeswitch "
        "(HuaweiNewMode) should have switched it to 12d1:{14db,14dc} (drivers now: usb-storage)"
    )
    assert out["gone"] is None
