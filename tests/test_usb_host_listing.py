"""The lab host's discovery under umockdev: what it lists, and that its shortcuts read
what pyudev itself reads.

`HostUsb` lists sysfs itself and looks properties up one by one (see
`hil.usb.host`); these tests hold those shortcuts to pyudev's own answers on
recordings of real modems (fixtures/udev), and run `hil devices` on the
benchmark's bus of nested hubs (bench/usb.py) at a small size.
"""

from __future__ import annotations

import json

import pytest

from tests.usb_umockdev import (
    PORT,
    needs_umockdev,
    python_under_testbed,
    umockdev_run,
)

pytestmark = [pytest.mark.real, needs_umockdev]

SAME_AS_PYUDEV = """
import json, pickle
import pyudev
from hil.usb.host import DeviceProperties, HostUsb, properties_of
from hil.usb.testbed import Testbed

tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev", "fixtures/udev/ec25-qmi.umockdev",
        "fixtures/udev/ch340-console.umockdev")
# a network interface and a tty that are not USB: discovery must leave them out
tb.tb.add_from_string("P: /devices/virtual/net/lo\\nE: SUBSYSTEM=net\\nE: INTERFACE=lo\\n")
tb.tb.add_from_string("P: /devices/platform/serial8250/tty/ttyS0\\nE: SUBSYSTEM=tty\\n"
                      "E: DEVNAME=/dev/ttyS0\\nA: dev=4:64\\n")
ctx = pyudev.Context()
records = HostUsb(ctx).records()
mismatch = []
for r in records:
    device = pyudev.Devices.from_sys_path(ctx, r.sys_path)
    want = dict(device.properties)
    lazy = DeviceProperties(device)
    looked_up = {k: lazy.get(k) for k in list(want) + ["NO_SUCH_KEY"]}
    if (properties_of(device) != want or looked_up != {**want, "NO_SUCH_KEY": None}
            or dict(lazy) != want or pickle.loads(pickle.dumps(lazy)) != want
            or dict(r.properties) != want or r.subsystem != device.subsystem
            or r.devtype != device.device_type or r.driver != device.driver
            or r.devnode != device.device_node or r.devpath != device.device_path):
        mismatch.append(r.devpath)
print(json.dumps({"paths": sorted(r.devpath for r in records), "mismatch": mismatch}))
"""


def test_records_hold_what_pyudev_reads_and_only_usb_devices_and_their_ports():
    out = python_under_testbed(SAME_AS_PYUDEV)
    assert out["mismatch"] == []
    names = [p.rsplit("/", 1)[-1] for p in out["paths"]]
    assert "lo" not in names and "ttyS0" not in names  # not below a USB device
    for port in ("ttyUSB0", "ttyUSB3", "ttyUSB4", "cdc-wdm0", "wwan0", "1-1.4:1.4", "1-1.1"):
        assert port in names
    # the root hub's ancestors are there for `@` matches (controller, PCI bridge, platform)
    assert any(p.endswith("/0000:01:00.0") for p in out["paths"])
    assert any(p.endswith("/fd500000.pcie") for p in out["paths"])


def test_hil_devices_on_a_bus_of_nested_hubs_finds_every_modem_at_its_port(hil_cmd, tmp_path):
    """The benchmark's bus, small: hubs behind hubs, EC25s three levels down, E3372s."""
    from bench.usb import bus_recording

    text, _ = bus_recording(9)
    rec = tmp_path / "bus.umockdev"
    rec.write_text(text)
    r = umockdev_run(["pi4-usb-hub.umockdev", str(rec)], *hil_cmd, "devices", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(row["id_path"].rsplit(":", 1)[-1], row["vid"], row["pid"]) for row in rows] == [
        ("1.1.1.1", "2c7c", "0125"),
        ("1.1.1.2", "2c7c", "0125"),
        ("1.1.1.3", "2c7c", "0125"),
        ("1.1.1.4", "2c7c", "0125"),
        ("1.1.1.5", "2c7c", "0125"),
        ("1.1.8", "12d1", "14dc"),
        ("1.2.8", "12d1", "14dc"),
        ("1.3.8", "12d1", "14dc"),
        ("1.4.8", "12d1", "14dc"),
    ]
    assert all(row["kind"] == "modem" and row["mode"] == "modem" for row in rows)
    assert rows[4]["ttys"] == [
        "/dev/ttyUSB16",
        "/dev/ttyUSB17",
        "/dev/ttyUSB18",
        "/dev/ttyUSB19",
        "/dev/cdc-wdm4",
    ]
    assert rows[4]["net"] == ["wwan4"] and rows[4]["drivers"] == ["option", "qmi_wwan"]
    assert rows[8]["net"] == ["eth4"]
    assert rows[0]["id_path"] == PORT.format("1.1.1.1")
