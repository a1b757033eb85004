"""The kernel log's USB lines, on real kernel output (fixtures/dmesg/README.md) and
on the simulator's."""

from __future__ import annotations

from pathlib import Path

from hil.probes.dmesg import UsbKernelEvent, ids_at, parse_usb_events

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dmesg"


def test_a_mode_switch_is_two_ids_at_one_port() -> None:
    events = parse_usb_events((FIXTURES / "libreelec-6105-rtl8821cu-modeswitch.txt").read_text())
    assert events == [
        UsbKernelEvent(2.486315, "1-1.1", "found", "0bda", "1a2b", 3),
        UsbKernelEvent(6.054633, "1-1.1", "disconnect", devnum=3),
        UsbKernelEvent(6.366480, "1-1.1", "found", "0bda", "c811", 5),
    ]
    assert ids_at(events, "1-1.1") == ["0bda:1a2b", "0bda:c811"]
    assert ids_at(events, "1-1.2") == []


def test_a_reenumeration_keeps_the_id_and_takes_a_new_device_number() -> None:
    events = parse_usb_events((FIXTURES / "echomuse-79-reenumerates.txt").read_text())
    found = [e for e in events if e.action == "found"]
    # the first enumeration's "new ... device number" line is before the excerpt
    assert [(e.vid_pid, e.devnum) for e in found] == [("1949:0112", None), ("1949:0112", 61)]
    assert [e.action for e in events] == ["found", "disconnect", "found"]


def test_the_simulators_kernel_lines_parse_as_the_real_ones() -> None:
    from hil.lab import load_lab
    from hil.sim.usb import DMESG, usb_bus
    from hil.sim.world import World
    from tests.conftest import SIM_LAB

    world = World(load_lab(SIM_LAB, env={}).board("pi3-b"))
    world.boot()
    bus = usb_bus(world)
    bus.replug(bus.modem("ec25"), off_for=0.0)
    bus.advance()
    events = parse_usb_events(world.fs.read_text(DMESG))
    assert [(e.action, e.vid_pid) for e in events if e.port == "1-1.2"] == [
        ("found", "2c7c:0125"),
        ("disconnect", None),
        ("found", "2c7c:0125"),
    ]
    devnums = [e.devnum for e in events if e.port == "1-1.2"]
    assert devnums[0] == devnums[1] and devnums[2] > devnums[0]
