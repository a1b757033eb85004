"""The simulated board's USB bus: storage mode, the real database's switch, faults, tools."""

from __future__ import annotations

import threading
import time

import pytest

from hil.lab import load_lab
from hil.lab.models import BoardConfig
from hil.probes.lsusb import parse_lsusb
from hil.probes.udevadm import parse_export_db
from hil.sim.shell import Shell
from hil.sim.usb import UsbBus, usb_bus
from hil.sim.world import World
from hil.usb.model import UdevTree
from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb, stuck_in_storage
from tests.conftest import SIM_LAB

pytestmark = pytest.mark.skipif(
    not CONFIG_PACK.is_file(), reason="usb-modeswitch-data is installed by scripts/setup.sh"
)
E3372_PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3"


def board(modems: list[dict], faults: tuple[str, ...] = (), device_type="raspberrypi4-64"):
    return BoardConfig.model_validate(
        {
            "name": "b",
            "device_type": device_type,
            "console": {"url": "sim://b"},
            "faults": list(faults),
            "sim": {"modems": modems},
        }
    )


def world_of(config: BoardConfig) -> World:
    w = World(config)
    w.boot()
    return w


def settle(bus: UsbBus, name: str, mode: str, timeout: float = 5.0) -> None:
    """Follow the bus's events until the modem is in `mode` (real seconds)."""
    m = bus.modem(name)
    deadline = time.monotonic() + timeout
    seen = 0
    while m.mode != mode:
        assert time.monotonic() < deadline, f"{name} still {m.mode}, wanted {mode}"
        events = bus.wait_event(seen, 0.5, threading.Event())
        seen = events[-1].seq if events else seen


class Sh:
    def __init__(self, world: World) -> None:
        self.out = bytearray()
        self.shell = Shell(world, out=self.out.extend)

    def __call__(self, line: str) -> tuple[str, int]:
        self.out.clear()
        status = self.shell.run_line(line)
        return self.out.decode(), status


@pytest.fixture(scope="module")
def db() -> ModeswitchDb:
    return ModeswitchDb.load()


#: a 12d1:1f01 stick the lab does not name (its firmware unknown): it goes where the
#: database says, the HiLink network card
UNNAMED_1F01 = [{"name": "e3372", "vid_pid": "12d1:1f01", "usb_path": E3372_PORT}]


def test_e3372_appears_in_storage_mode_and_switches_to_a_target_of_the_real_database(db):
    bus = usb_bus(world_of(board(UNNAMED_1F01)))
    settle(bus, "e3372", "modem")
    m = bus.modem("e3372")
    products = [
        dict(e.properties).get("PRODUCT")
        for e in bus.events
        if e.devtype == "usb_device" and e.devpath.endswith("/1-1.3")
    ]
    # first enumeration as mass storage, gone, back with the database's target PID
    assert products[0] == "12d1/1f01/102" and products[-1] == "12d1/14dc/102"
    assert [e.action for e in bus.events if e.devpath.endswith("/1-1.3")][:3] == [
        "add",
        "bind",
        "remove",
    ]
    assert m.pid in db.lookup("12d1", "1f01").target_products
    assert (m.id_path, m.vid_pid, m.drivers, m.net) == (
        E3372_PORT,
        "12d1:14dc",
        ["cdc_ether", "usb-storage"],
        ["eth1"],
    )


def test_zte_switches_to_the_serial_modem_of_its_database_entry(db):
    w = world_of(board([{"name": "zte", "vid_pid": "19d2:2000"}]))
    bus = usb_bus(w)
    settle(bus, "zte", "modem")
    m = bus.modem("zte")
    assert m.vid_pid == "19d2:0031" and m.pid in db.lookup("19d2", "2000").target_products
    assert m.ttys == ["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"]
    assert m.at_port == "/dev/ttyUSB2"  # interface 3, as ModemManager's ZTE rules tag it
    sh = Sh(w)
    out, status = sh("udevadm info -q property /dev/ttyUSB2")
    assert (
        status == 0 and "ID_MM_PORT_TYPE_AT_PRIMARY=1" in out and "ID_USB_INTERFACE_NUM=03" in out
    )


def test_ec25_needs_no_switch_and_has_qmi_and_four_serial_ports():
    lab = load_lab(SIM_LAB, env={})
    bus = usb_bus(world_of(lab.board("pi3-b")))
    m = bus.modem("ec25")
    assert m.mode == "modem" and not [e for e in bus.events if e.action == "remove"]
    assert m.id_path == "platform-3f980000.usb-usb-0:1.2"
    assert m.drivers == ["option", "qmi_wwan"]
    assert m.ttys == [f"/dev/ttyUSB{i}" for i in range(4)]
    assert (m.wdm, m.net, m.at_port) == (["/dev/cdc-wdm0"], ["wwan0"], "/dev/ttyUSB2")


def test_the_tools_agree_with_the_bus():
    w = world_of(board(UNNAMED_1F01))
    bus = usb_bus(w)
    settle(bus, "e3372", "modem")
    sh = Sh(w)
    out, _ = sh("lsusb")
    entries = parse_lsusb(out)
    assert ("12d1:14dc", 4) in [(e.vid_pid, e.devnum) for e in entries]
    assert "Huawei Technologies Co., Ltd. E3372 LTE/UMTS/GSM HiLink Modem/Networkcard" in out
    out, _ = sh("udevadm info --export-db")
    (modem,) = [d for d in UdevTree(parse_export_db(out)).usb_devices() if d.id_path == E3372_PORT]
    assert (modem.vid_pid, modem.mode, modem.net) == ("12d1:14dc", "modem", ["eth1"])
    out, status = sh(
        "cat /sys/bus/usb/devices/1-1.3/idProduct /sys/bus/usb/devices/1-1.3:1.0/bInterfaceClass"
    )
    assert (out, status) == ("14dc\n02\n", 0)
    out, status = sh("udevadm info /sys/bus/usb/devices/9-9")
    assert (out, status) == ('Unknown device "/sys/bus/usb/devices/9-9": No such device\n', 1)
    out, _ = sh("lsusb -t")
    assert "|__ Port 3: Dev 4, If 0, Class=Communications, Driver=cdc_ether, 480M" in out


def test_stuck_in_storage_mode_fault(db):
    lab = load_lab(SIM_LAB, env={})
    config = lab.board("pi4-a").model_copy(update={"faults": ["modem-stuck-in-storage-mode"]})
    w = world_of(config)
    bus = usb_bus(w)
    time.sleep(bus.real_seconds(10))  # well past when udev would have switched it
    bus.advance()
    m = bus.modem("e3372")
    assert (m.mode, m.vid_pid) == ("storage", "12d1:1f01")
    sh = Sh(w)
    out, status = sh("usb_modeswitch -v 0x12d1 -p 0x1f01 -J")
    assert status == 0
    assert "Using standard Huawei switching message" in out
    assert " Response successfully read (13 bytes), status 0" in out  # and nothing happens
    out, _ = sh("udevadm info --export-db")
    (dev,) = [d for d in UdevTree(parse_export_db(out)).usb_devices() if d.id_path == E3372_PORT]
    problem = stuck_in_storage(dev, db)
    assert problem is not None and "should have switched it to 12d1:{14db,14dc}" in str(problem)
    # the fault lifted, usb_modeswitch does its job
    w.set_fault("modem-stuck-in-storage-mode", False)
    out, _ = sh("usb_modeswitch -v 0x12d1 -p 0x1f01 -J")
    assert " Device seems to have vanished after reading. Good." in out
    settle(bus, "e3372", "modem")


def test_the_lab_named_e3372_comes_back_as_its_stick_firmware_and_modemmanager_agrees(db):
    """pi4-a names its 12d1:1f01 a Huawei E3372 (stick firmware): after Huawei's switch
    message it is 12d1:1506 — not on the database's target list, as on real sticks —
    and ModemManager's ports are the bus's ttys, cdc-wdm and net interface."""
    from hil.probes.mmcli import parse_modem

    w = world_of(load_lab(SIM_LAB, env={}).board("pi4-a"))
    bus = usb_bus(w)
    settle(bus, "e3372", "modem")
    m = bus.modem("e3372")
    assert (m.vid_pid, m.switched_to) == ("12d1:1506", "12d1:1506")
    assert m.pid not in db.lookup("12d1", "1f01").target_products
    time.sleep(bus.real_seconds(3))  # ModemManager's probe
    out, status = Sh(w)("mmcli -m 0 -K")
    assert status == 0, out
    modem = parse_modem(out)
    assert sorted(p.name for p in modem.ports) == sorted(
        [t.removeprefix("/dev/") for t in m.ttys + m.wdm] + m.net
    )
    assert modem.primary_port == "cdc-wdm0" and modem.drivers == ["option", "huawei_cdc_ncm"]
    assert modem.device == f"/sys{m.devpath}"
    out, _ = Sh(w)("dmesg")
    assert "usb 1-1.3: New USB device found, idVendor=12d1, idProduct=1f01" in out
    assert "usb 1-1.3: New USB device found, idVendor=12d1, idProduct=1506" in out


def test_modem_reenumerates_fault_drops_and_brings_back_the_modem_at_its_port():
    """Under load: a data session on the modem, then the fault power-cycles its port,
    and ModemManager loses it with the bus."""
    lab = load_lab(SIM_LAB, env={})
    w = world_of(lab.board("pi3-b"))
    bus = usb_bus(w)
    m = bus.modem("ec25")
    first = m.devnum
    sh = Sh(w)
    time.sleep(bus.real_seconds(3))
    # pi3-b's SIM wants its PIN (sim.yaml), the network its credentials
    out, status = sh(
        "mmcli -m 0 --simple-connect=pin=51739264,apn=giffgaff.com,user=giffgaff,"
        "password=gg-data-7781"
    )
    assert status == 0, out
    w.set_fault("modem-reenumerates", True)
    deadline = time.monotonic() + 5
    while m.mode != "absent":  # ModemManager's model notices the load when it looks
        assert time.monotonic() < deadline, "the modem never left the bus"
        sh("mmcli -L -K")
    assert sh("mmcli -m 0 -K")[1] == 1
    settle(bus, "ec25", "modem")
    assert m.devnum > first and m.id_path == "platform-3f980000.usb-usb-0:1.2"
    actions = [(e.action, e.devpath.rsplit("/", 1)[1]) for e in bus.events if e.subsystem == "net"]
    assert actions[-2:] == [("remove", "wwan0"), ("add", "wwan0")]


def test_monitor_over_the_shell_ends_at_the_first_event_when_piped():
    lab = load_lab(SIM_LAB, env={})
    w = world_of(lab.board("pi3-b"))
    bus = usb_bus(w)
    sh = Sh(w)
    bus.replug(bus.modem("ec25"), off_for=50.0)  # back 1 s later, under a listening monitor
    out, status = sh(
        "timeout 5 udevadm monitor --kernel --udev --subsystem-match=usb/usb_device "
        "| grep -m 1 -E '^KERNEL\\['"
    )
    assert status == 0
    assert out.startswith("KERNEL[") and out.rstrip().endswith("/1-1/1-1.2 (usb)")
    out, status = sh("timeout 0.2 udevadm monitor --udev")
    assert status == 124 and out.startswith("monitor will print the received events for:\n")


def test_replug_through_the_lab_side_control_request():
    from hil.sim.usb import usb_port_request

    lab = load_lab(SIM_LAB, env={})
    w = world_of(lab.board("pi3-b"))
    assert usb_port_request(w, "ec25", "unplug") == {"ok": True, "mode": "absent", "vid_pid": None}
    assert usb_port_request(w, "nope", "replug")["error"].startswith("no modem 'nope'")
    assert usb_port_request(w, "ec25", "plug")["mode"] == "modem"


def test_e3372_stick_firmware_is_ncm_with_an_option_port():
    """12d1:1506 (stick firmware after its switch): huawei_cdc_ncm data, option AT port."""
    bus = usb_bus(world_of(board([{"name": "stick", "vid_pid": "12d1:1506"}])))
    m = bus.modem("stick")
    assert m.mode == "modem"
    assert m.drivers == ["option", "huawei_cdc_ncm", "usb-storage"]
    assert (m.ttys, m.wdm, m.net, m.at_port) == (
        ["/dev/ttyUSB0", "/dev/ttyUSB1"],
        ["/dev/cdc-wdm0"],
        ["wwan0"],
        "/dev/ttyUSB0",
    )
    (dev,) = [d for d in UdevTree(bus.records()).usb_devices() if d.vid_pid == "12d1:1506"]
    assert (dev.mode, dev.kind) == ("modem", "modem")
