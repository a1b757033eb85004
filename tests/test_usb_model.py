"""The shared USB model read from real `udevadm` text: exports, single records, monitor lines."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import pyudev

from hil.probes.lsusb import parse_lsusb
from hil.probes.udevadm import UdevParseError, parse_export_db, parse_monitor
from hil.usb.model import UdevTree, classify_mode, hex4
from tests.usb_umockdev import REPO

EXPORTS = REPO / "fixtures" / "udev" / "export-db"
LSUSB = REPO / "fixtures" / "lsusb"


def test_snapd_ft232r_export_reads_driver_subsystem_and_node_from_properties():
    records = parse_export_db((EXPORTS / "snapd-ft232r.txt").read_text())
    assert [r.subsystem for r in records] == ["usb-serial", "tty"]
    serial, tty = records
    assert serial.driver == "ftdi_sio" and serial.sys_name == "ttyUSB0"
    assert tty.devnode == "/dev/ttyUSB0"
    assert tty.properties["ID_PATH"] == "pci-0000:00:14.0-usb-0:2:1.0"
    assert tty.get("ID_USB_DRIVER") == "ftdi_sio"


def test_udev_151_export_of_a_zte_modem_port():
    records = parse_export_db((EXPORTS / "ubuntu-10.04-zte-mf636.txt").read_text())
    tty = records[1]
    assert tty.devnode == "/dev/ttyUSB2"
    assert tty.properties["ID_MODEL_ID"] == "0031"
    assert tty.properties["ID_USB_INTERFACES"] == ":ffffff:080650:"
    assert tty.properties["DEVLINKS"].endswith("-if03-port0")


def test_a_raspberry_pi_hub_record_becomes_a_usb_device_with_4_digit_ids():
    tree = UdevTree(parse_export_db((EXPORTS / "labgrid-696-rpi3-hub.txt").read_text()))
    (hub,) = tree.usb_devices()
    assert (hub.vid, hub.pid) == ("2109", "2817")
    assert hub.id_path == "platform-3f980000.usb-usb-0:1.3"
    assert (hub.busnum, hub.devnum) == (1, 4)
    assert hub.manufacturer == "VIA Labs, Inc."  # ID_VENDOR_ENC, \x escapes undone
    assert hub.is_hub and hub.kind is None


@pytest.mark.real
@pytest.mark.skipif(shutil.which("udevadm") is None, reason="udev is installed by setup")
def test_this_machines_export_db_lists_what_pyudev_lists():
    """A real export (systemd 252 here) parses whole, and names the same devices as pyudev."""
    out = subprocess.run(
        ["udevadm", "info", "--export-db"], capture_output=True, text=True, check=True
    ).stdout
    records = parse_export_db(out)
    assert len(records) == out.count("\nP: ") + out.startswith("P: ")
    ours = {(r.devpath, r.subsystem) for r in records}
    theirs = {(d.device_path, d.subsystem) for d in pyudev.Context().list_devices()}
    assert ours == theirs


@pytest.mark.parametrize(
    "text, line",
    [
        ("P: /devices/x\nE: KEY=v\ngarbage\n", 3),
        ("E: KEY=v\n", 1),
        ("P: /devices/x\nE: NOEQUALS\n", 2),
    ],
)
def test_a_malformed_export_names_the_line(text, line):
    with pytest.raises(UdevParseError, match=f"line {line}:"):
        parse_export_db(text, source="pi4-a: udevadm info")


def test_monitor_lines_from_a_real_unplug_and_plug():
    text = (REPO / "fixtures/udev/monitor/fccagou-blink1-unplug-plug.txt").read_text()
    events = parse_monitor("monitor will print the received events for:\n" + text)
    assert [(e.source, e.action, e.sys_name) for e in events[:4]] == [
        ("KERNEL", "remove", "4-1:1.0"),
        ("KERNEL", "remove", "4-1"),
        ("UDEV", "remove", "4-1:1.0"),
        ("UDEV", "remove", "4-1"),
    ]
    assert events[-1].subsystem == "hid" and events[4].time == 6488.272588


def test_lsusb_lines_from_real_outputs():
    hilink = parse_lsusb((LSUSB / "gammu-586-rpi-e3372-hilink.txt").read_text())
    assert [e.vid_pid for e in hilink][:2] == ["2109:2817", "12d1:14dc"]
    assert hilink[1].name.startswith("Huawei Technologies") and hilink[1].devnum == 26
    ec25 = parse_lsusb((LSUSB / "geerlingguy-344-ec25.txt").read_text())
    assert [(e.busnum, e.devnum, e.vid_pid) for e in ec25] == [
        (2, 1, "1d6b:0003"),
        (1, 2, "2c7c:0125"),
        (1, 1, "1d6b:0002"),
    ]
    busybox = parse_lsusb((LSUSB / "buildroot-busybox-e173s-storage.txt").read_text())
    assert busybox[-1].vid_pid == "12d1:1c0b" and busybox[-1].name == ""


def test_ids_are_four_lowercase_hex_digits():
    assert [hex4(x) for x in ("0x12D1", "1f01", "2", 0x14DC)] == ["12d1", "1f01", "0002", "14dc"]


def test_mode_needs_a_bound_modem_driver_and_storage_means_storage_only():
    """Vendor interfaces no driver claimed (an unknown PID) are `unknown`, not `modem`."""
    export = """P: /devices/usb1/1-1
U: usb
T: usb_device
E: PRODUCT=3566/2001/ffff

P: /devices/usb1/1-1/1-1:1.0
U: usb
T: usb_interface
E: INTERFACE=255/255/255

P: /devices/usb1/1-1/1-1:1.1
U: usb
T: usb_interface
V: usb-storage
E: INTERFACE=8/6/80
"""
    (dev,) = UdevTree(parse_export_db(export)).usb_devices()
    assert dev.vid_pid == "3566:2001" and classify_mode(dev) == "unknown"
    assert [i.class_triple for i in dev.interfaces] == ["ffffff", "080650"]


REAL_EVENTS = (
    "udevadm monitor --kernel --subsystem-match=net & m=$!; sleep 0.5; "
    "ip link add hilv0 type veth peer name hilv1; ip link del hilv0; sleep 0.5; kill $m"
)


@pytest.mark.real
@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare")
def test_real_kernel_events_in_a_private_network_namespace_parse_and_print_alike():
    """systemd's udevadm monitor, on real uevents of a veth pair in a namespace of our own."""
    r = subprocess.run(
        ["unshare", "-n", "sh", "-c", REAL_EVENTS], capture_output=True, text=True, timeout=30
    )
    if r.returncode != 0 and "Operation not permitted" in r.stderr:
        pytest.skip("no permission to create a network namespace here")
    events = parse_monitor(r.stdout)
    seen = {(e.source, e.action, e.sys_name, e.subsystem) for e in events}
    assert ("KERNEL", "add", "hilv1", "net") in seen
    assert ("KERNEL", "remove", "hilv0", "net") in seen
    # the sim's monitor prints its events in exactly this layout
    from hil.sim.commands.usb import monitor_line

    for line in r.stdout.splitlines():
        if line.startswith("KERNEL["):
            (e,) = parse_monitor(line)
            assert monitor_line(e.source, e.time, e.action, e.devpath, e.subsystem) == line
