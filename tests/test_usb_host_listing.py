"""The lab host's discovery under umockdev: what it lists, and that its shortcuts read
what pyudev itself reads.

`HostUsb` lists sysfs itself, reads interfaces and ports from their uevent and
looks properties up one by one (see `hil.usb.host`); these tests hold those
shortcuts to pyudev's own answers on
recordings of real modems (fixtures/udev), and run `hil devices` on the
benchmark's bus of nested hubs (bench/usb.py) at a small size.
"""

from __future__ import annotations

import json
import sys

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
from hil.usb.host import DeviceAttributes, DeviceProperties, HostUsb, properties_of
from hil.usb.match import NoMatch
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
from_uevent = 0
for r in records:
    device = pyudev.Devices.from_sys_path(ctx, r.sys_path)
    want = dict(device.properties)
    kernel = getattr(r.properties, "kernel", None)  # read from the uevent, not through pyudev
    if kernel is not None:
        from_uevent += 1
        if any(want.get(k) != v for k, v in kernel.items()):
            mismatch.append("uevent " + r.devpath)
    lazy = DeviceProperties(device)
    looked_up = {k: lazy.get(k) for k in list(want) + ["NO_SUCH_KEY"]}
    if (properties_of(device) != want or looked_up != {**want, "NO_SUCH_KEY": None}
            or dict(lazy) != want or pickle.loads(pickle.dumps(lazy)) != want
            or dict(r.properties) != want or r.subsystem != device.subsystem
            or dict(r.attributes) != dict(pickle.loads(pickle.dumps(DeviceAttributes(device))))
            or r.attributes.get("dev") != (device.attributes.asstring("dev").strip()
                                           if "dev" in device.attributes.available_attributes
                                           else None)
            or r.devtype != device.device_type or r.driver != device.driver
            or r.devnode != device.device_node or r.devpath != device.device_path):
        mismatch.append(r.devpath)
host = HostUsb(ctx)
port = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.4"
by_port = host.find({"@ID_PATH": port, "SUBSYSTEM": "tty", "DEVNAME": "/dev/ttyUSB2"})
by_attr = host.find({"@ATTR{idProduct}": "0125", "SUBSYSTEM": "usbmisc"})
own_attr = host.find({"ATTR{bInterfaceNumber}": "04", "DRIVER": "qmi_wwan"})
try:
    host.find({"@ATTR{idVendor}": "dead", "SUBSYSTEM": "tty"})
    missed = None
except NoMatch as e:
    missed = str(e)
print(json.dumps({"paths": sorted(r.devpath for r in records), "mismatch": mismatch,
                  "from_uevent": from_uevent,
                  "interfaces_and_ports": sum(1 for r in records if r.devtype != "usb_device"
                                              and r.subsystem in ("usb", "tty", "net", "usbmisc")),
                  "found": [d.vid_pid for d in (by_port, by_attr, own_attr)], "missed": missed}))
"""


@pytest.fixture(scope="module")
def host_view():
    return python_under_testbed(SAME_AS_PYUDEV)


def test_records_hold_what_pyudev_reads_and_only_usb_devices_and_their_ports(host_view):
    out = host_view
    assert out["mismatch"] == []
    # interfaces and ports were read from their uevent, and it says what pyudev says
    assert out["from_uevent"] == out["interfaces_and_ports"] > 10
    names = [p.rsplit("/", 1)[-1] for p in out["paths"]]
    assert "lo" not in names and "ttyS0" not in names  # not below a USB device
    for port in ("ttyUSB0", "ttyUSB3", "ttyUSB4", "cdc-wdm0", "wwan0", "1-1.4:1.4", "1-1.1"):
        assert port in names
    # the root hub's ancestors are there for `@` matches (controller, PCI bridge, platform)
    assert any(p.endswith("/0000:01:00.0") for p in out["paths"])
    assert any(p.endswith("/fd500000.pcie") for p in out["paths"])


def test_host_matches_use_ancestor_keys_and_any_sysfs_attribute(host_view):
    out = host_view
    # a tty by the port its modem sits in; a cdc-wdm by its device's idProduct; an
    # interface by its own bInterfaceNumber: each stands for the EC25
    assert out["found"] == ["2c7c:0125"] * 3
    assert "@ATTR{idVendor}: no ancestor has ATTR{idVendor} 'dead'" in out["missed"]
    assert "'2c7c'" in out["missed"] and "'1a86'" in out["missed"]  # what was there instead


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


FOLLOW = """
import json, time
import pyudev
from hil.usb.host import HostUsb
from hil.usb.match import LiveMatch, Match, match_usb
from hil.usb.model import UdevTree
from hil.usb.testbed import Testbed

PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:"

HUB = "/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1/1-1"
tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev", "fixtures/udev/e3372h-storage.umockdev",
        "fixtures/udev/ec25-qmi.umockdev")
ctx = pyudev.Context()
host = HostUsb(ctx)
tree = UdevTree(host.records())
matches = [Match.of(PORT + "1.3"), Match.of({"@ID_PATH": PORT + "1.4", "SUBSYSTEM": "tty"}),
           Match.of({"SUBSYSTEM": "net"}), Match.of({"@DRIVER": "cdc_ether"})]
live = [LiveMatch(tree, m) for m in matches]
monitor = pyudev.Monitor.from_netlink(ctx)
for subsystem in ("usb", "tty", "net", "usbmisc"):
    monitor.filter_by(subsystem)
monitor.start()
tb.unplug(HUB + "/1-1.3")                              # the modeswitch: storage leaves,
tb.plug("fixtures/udev/e3372h-hilink.umockdev")         # the modem comes back
tb.unplug(HUB + "/1-1.4/1-1.4:1.4/net/wwan0")           # a port goes away alone
tb.tb.add_from_string("P: /devices/platform/serial8250/tty/ttyS1\\nE: SUBSYSTEM=tty\\n"
                      "E: DEVNAME=/dev/ttyS1\\nA: dev=4:65\\n")   # not USB
tb.uevent(HUB + "/1-1.4", "change")
events = []
while (e := monitor.poll(timeout=0.5)) is not None:
    events.append(e)
changed, removed = host._follow(tree, events)
for m in live:
    m.update(changed, removed)
records = tree.records
fresh = {r.devpath: r for r in host.records()}
fresh_tree = UdevTree(fresh.values())
def devices(report):
    return sorted(d.devpath for d in report.devices)
kept = [devices(m.report()) for m in live]
anew = [devices(match_usb(fresh_tree, m)) for m in matches]
links = {p: [c.devpath for c in tree.children(r)] for p, r in records.items()}
fresh_links = {p: [c.devpath for c in fresh_tree.children(r)] for p, r in fresh.items()}
def view(rs):
    return {p: [r.subsystem, r.devtype, r.driver, r.devnode,
                {k: v for k, v in r.properties.items() if k not in ("ACTION", "SEQNUM")}]
            for p, r in sorted(rs.items())}
print(json.dumps({"events": len(events), "followed": view(records), "listed": view(fresh),
                  "kept": kept, "anew": anew, "links": links == fresh_links,
                  "removed": sorted(removed)}))
"""


def test_following_events_gives_the_records_a_new_listing_gives():
    """wait_for reads only what events name and checks again only what changed: the tree
    and the matches must be what a new listing gives."""
    out = python_under_testbed(FOLLOW)
    assert out["events"] >= 8
    assert out["followed"] == out["listed"]
    assert out["links"] is True  # parents and children as a tree built anew
    assert out["kept"] == out["anew"]
    by_port, ttys, nets, cdc = out["kept"]
    assert [p.rsplit("/", 1)[-1] for p in by_port] == ["1-1.3"]  # the modem after its switch
    assert [p.rsplit("/", 1)[-1] for p in ttys] == ["1-1.4"]
    assert [p.rsplit("/", 1)[-1] for p in nets] == ["1-1.3"]  # eth1; wwan0 went away
    assert cdc == by_port
    assert any(p.endswith("/wwan0") for p in out["removed"])
    names = [p.rsplit("/", 1)[-1] for p in out["followed"]]
    assert "eth1" in names and "1-1.3:1.2" in names  # the modem after its switch
    assert "wwan0" not in names and "ttyS1" not in names


def test_hil_devices_starts_light():
    """`hil devices` on a host loads neither the modeswitch database (tarfile) when every
    device is a modem or a console by its interfaces, nor the lab config's models, nor
    the redactor (only an error needs it): start-up is a third of the command's time on a
    bus of 200 modems (bench/usb.py)."""
    probe = (
        "import json, sys; from hil.cli.main import main; main(['devices', '--json']); "
        "print(json.dumps(sorted(m for m in ('hil.usb.modeswitch', 'tarfile', 'hil.lab.models', "
        "'hil.lab.secrets', 'pydantic', 'yaml', 'rich', 'traceback') if m in sys.modules)))"
    )
    r = umockdev_run(
        ["pi4-usb-hub.umockdev", "ec25-qmi.umockdev", "ch340-console.umockdev"],
        sys.executable,
        "-c",
        probe,
    )
    assert r.returncode == 0, r.stderr
    listing, loaded = r.stdout.rsplit("\n", 2)[0], r.stdout.splitlines()[-1]
    assert [row["kind"] for row in json.loads(listing)] == ["console", "modem"]
    assert json.loads(loaded) == []
