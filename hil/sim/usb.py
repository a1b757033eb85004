"""The simulated board's USB bus: modems that enumerate, switch mode and re-enumerate.

The modems of the lab's `sim.modems` sit at their `usb_path` (udev's ID_PATH of
the port) on the board's USB topology (a Raspberry Pi 4's VL805 + VIA hub, or
a Pi 3's SMSC hub). A modem whose `vid_pid` is a storage-mode id enumerates as
mass storage first; the usb_modeswitch model — driven by the REAL
usb-modeswitch-data database and udev rules (`hil.usb.modeswitch`) — switches
it to a target PID from its entry's list, and it re-enumerates at the same
port as the modem-mode device (interfaces, drivers, ttys, net interfaces,
cdc-wdm ports as the real device has them: `PROFILES`). A Quectel EC25 needs
no switch. Where the lab names the modem's model (`modems:`), the device comes
back as what that hardware is (`hil.sim.modem.catalog`: the E3372's stick
firmware answers Huawei's switch message as `12d1:1506`, whatever the
database's target list says) — the device decides, not usb_modeswitch.

The bus is the one source of truth for the modem's presence: `lsusb`,
`udevadm`, `/sys`, `usb_modeswitch`, the kernel log (`dmesg`) and
ModemManager's model (`hil.sim.modem`) all read it, so a re-enumeration, a
modem dropping off the bus or one stuck in storage mode looks the same to
every tool.

Time is the world's compressed clock: the bus keeps a schedule of what
happens when (switch, re-enumeration), applied lazily by `advance()`, which
every reader calls; `wait_event()` blocks until the next event.

API for the rest of the sim (ModemManager's model, suites' lab side):

    bus = usb_bus(world)                 # the board's bus (created on first use)
    m = bus.modem("e3372")               # SimUsbModem: name, port, id_path, vid, pid,
    m.mode, m.present, m.drivers, m.ttys, m.net, m.wdm, m.at_port, m.interfaces
    bus.switch(m)                        # what usb_modeswitch does (SwitchResult)
    bus.replug(m) / bus.unplug(m) / bus.plug(m)
    bus.subscribe(fn)                    # fn(event: UsbEvent) on every add/remove/bind
    bus.records() / bus.export_db()      # udev's view (UdevRecords / export text)

Who switches a storage-mode modem, by which method, and the report the board
keeps of it (`/var/log/usb_modeswitch_<device>`) is `hil.sim.usb_modeswitch`'s.

Faults: `modem-stuck-in-storage-mode` (usb_modeswitch's message is sent and
acknowledged, the device never leaves storage mode), `modeswitch-wrong-method`
(`hil.sim.usb_modeswitch`: another setting switches it, by another method). The faults that take a
modem off the bus under load (`modem-reenumerates`, `modem-drops-off-bus`)
are ModemManager's model's: it unplugs and replugs the modem here.
"""

from __future__ import annotations

import json
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hil.probes.udevadm import UdevRecord
from hil.sim import usb_modeswitch
from hil.sim.modem.catalog import ModemHardware, find
from hil.sim.shell.interp import CommandError
from hil.usb.modeswitch import (
    ModeswitchDataMissing,
    ModeswitchDb,
    ModeswitchEntry,
    UdevRule,
    parse_rules,
)

if TYPE_CHECKING:
    from hil.lab.models import SimModem
    from hil.sim.world import World

#: world seconds from enumeration in storage mode to udev running usb_modeswitch
SWITCH_AFTER = 2.0
#: world seconds a switched device stays off the bus before it re-enumerates
REENUMERATE_AFTER = 1.0

STUCK = "modem-stuck-in-storage-mode"
#: the kernel's ring buffer, as `dmesg` prints it
DMESG = "/var/log/dmesg"
RULES_DIR = "/etc/udev/rules.d"
CONFIG_JSON = "/mnt/boot/config.json"


# -- what the devices look like (the same facts as fixtures/udev, see SOURCES.md) ------------


@dataclass(frozen=True)
class Function:
    """One USB interface of a device profile."""

    cls: int
    sub: int
    proto: int
    driver: str | None
    port: str | None = None  # "tty", "net", "wdm+net"
    mm_port_type: str | None = None  # ModemManager's udev tag (ID_MM_PORT_TYPE_<x>)
    net_prefix: str = "wwan"
    usbserial_driver: str | None = None


@dataclass(frozen=True)
class Profile:
    """A USB device as it enumerates: descriptors, strings and interface functions."""

    vid: str
    pid: str
    bcd: str
    device_class: int
    manufacturer: str
    product: str
    serial: str | None
    functions: tuple[Function, ...]
    version: str = "2.10"
    max_power: str = "500mA"
    model: str = ""  # for messages

    @property
    def vid_pid(self) -> str:
        return f"{self.vid}:{self.pid}"


def _option(mm: str | None = None, cls: tuple[int, int, int] = (255, 255, 255)) -> Function:
    return Function(*cls, driver="option", port="tty", mm_port_type=mm, usbserial_driver="option1")


_STORAGE = Function(8, 6, 80, "usb-storage")

PROFILES: dict[str, Profile] = {
    p.vid_pid: p
    for p in [
        # Huawei E3372h, HiLink firmware (fixtures/udev/e3372h-*.umockdev)
        Profile(
            "12d1",
            "1f01",
            "0102",
            0,
            "HUAWEI_MOBILE",
            "HUAWEI_MOBILE",
            "0123456789ABCDEF",
            (_STORAGE,),
            max_power="2mA",
            model="Huawei E3372h (storage)",
        ),
        Profile(
            "12d1",
            "14dc",
            "0102",
            2,
            "HUAWEI_MOBILE",
            "HUAWEI_MOBILE",
            None,
            (
                Function(2, 6, 0, "cdc_ether", port="net", net_prefix="eth"),
                Function(10, 0, 0, "cdc_ether"),
                _STORAGE,
            ),
            max_power="2mA",
            model="Huawei E3372h (HiLink, CDC ECM)",
        ),
        # Huawei E3372 stick firmware after the switch: option ports + NCM
        Profile(
            "12d1",
            "1506",
            "0102",
            0,
            "HUAWEI_MOBILE",
            "HUAWEI_MOBILE",
            None,
            (
                _option("AT_PRIMARY"),
                Function(2, 13, 0, "huawei_cdc_ncm", port="wdm+net"),
                Function(10, 0, 2, "huawei_cdc_ncm"),
                _option(cls=(255, 255, 255)),
                _STORAGE,
            ),
            max_power="2mA",
            model="Huawei E3372 (stick, NCM)",
        ),
        # ZTE MF636 (fixtures/udev/zte-mf636-*.umockdev)
        Profile(
            "19d2",
            "2000",
            "0000",
            0,
            "ZTE,Incorporated",
            "ZTE WCDMA Technologies MSM",
            "P673C3TBPD010000",
            (_STORAGE,),
            version="2.00",
            model="ZTE MF636 (storage)",
        ),
        Profile(
            "19d2",
            "0031",
            "0000",
            0,
            "ZTE,Incorporated",
            "ZTE WCDMA Technologies MSM",
            "P673C3TBPD010000",
            (_option(), _option("AT_SECONDARY"), _STORAGE, _option("AT_PRIMARY")),
            version="2.00",
            model="ZTE MF636",
        ),
        # Quectel EC25 (fixtures/udev/ec25-qmi.umockdev): no switch needed
        Profile(
            "2c7c",
            "0125",
            "0318",
            239,
            "Android",
            "Android",
            None,
            (
                _option("QCDM"),
                _option("GPS", (255, 0, 0)),
                _option("AT_PRIMARY", (255, 0, 0)),
                _option("AT_SECONDARY", (255, 0, 0)),
                Function(255, 255, 255, "qmi_wwan", port="wdm+net"),
            ),
            version="2.00",
            model="Quectel EC25",
        ),
    ]
}


def _generic_storage(vid: str, pid: str) -> Profile:
    return Profile(vid, pid, "0000", 0, "USB", "Mass Storage", None, (_STORAGE,), model="storage")


def _generic_modem(vid: str, pid: str) -> Profile:
    """A target the sim has no description of: three serial ports, as most 3G sticks."""
    return Profile(
        vid,
        pid,
        "0000",
        0,
        "USB",
        "Modem",
        None,
        (_option(), _option("AT_SECONDARY"), _option("AT_PRIMARY")),
        model="modem",
    )


def hardware_profile(hw: ModemHardware) -> Profile:
    """A catalog modem the sim has no recorded descriptors of, as its ports imply:
    one interface per tty (option), a QMI or NCM function per cdc-wdm + net pair,
    a CDC ECM function for a bare net port."""
    functions: list[Function] = []
    ttys = [(n, t) for n, t in hw.ports if n.startswith("tty")]
    primary = hw.primary_port if hw.primary_port.startswith("tty") else None
    for name, kind in ttys:
        if kind == "at":
            tag = "AT_PRIMARY" if name == (primary or ttys[0][0]) else "AT_SECONDARY"
        else:
            tag = {"gps": "GPS", "ignored": "QCDM", "qcdm": "QCDM"}.get(kind)
        functions.append(_option(tag))
    wdm = next((t for n, t in hw.ports if n.startswith("cdc-wdm")), None)
    net = next((n for n, t in hw.ports if t == "net"), None)
    if wdm == "qmi":
        functions.append(Function(255, 255, 255, "qmi_wwan", port="wdm+net"))
    elif wdm is not None:
        functions.append(Function(2, 13, 0, "huawei_cdc_ncm", port="wdm+net"))
        functions.append(Function(10, 0, 2, "huawei_cdc_ncm"))
    elif net is not None:
        prefix = net.rstrip("0123456789")
        functions.append(Function(2, 6, 0, "cdc_ether", port="net", net_prefix=prefix))
        functions.append(Function(10, 0, 0, "cdc_ether"))
    return Profile(
        hw.vendor_id,
        hw.product_id,
        "0000",
        0,
        hw.manufacturer,
        hw.mm_model,
        None,
        tuple(functions),
        model=hw.model,
    )


def _known(hw: ModemHardware) -> Profile:
    return PROFILES.get(hw.vid_pid) or hardware_profile(hw)


# -- the board's USB topology -----------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """Where the ports are: controller devpath, its ID_PATH, the on-board hub."""

    controller: str
    id_path: str
    root_hub: Profile
    hub: Profile
    first_port: int


_ROOT = Profile(
    "1d6b",
    "0002",
    "0515",
    9,
    "Linux {kernel} xhci-hcd",
    "xHCI Host Controller",
    None,
    (Function(9, 0, 0, "hub"),),
    version="2.00",
    max_power="0mA",
)
PI4 = Topology(
    controller="/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0",
    id_path="platform-fd500000.pcie-pci-0000:01:00.0",
    root_hub=_ROOT,
    hub=Profile(
        "2109",
        "3431",
        "0420",
        9,
        "",
        "USB2.0 Hub",
        None,
        (Function(9, 0, 0, "hub"),),
        max_power="100mA",
    ),
    first_port=1,
)
PI3 = Topology(
    controller="/devices/platform/soc/3f980000.usb",
    id_path="platform-3f980000.usb",
    root_hub=Profile(
        "1d6b",
        "0002",
        "0515",
        9,
        "Linux {kernel} dwc_otg_hcd",
        "DWC OTG Controller",
        "3f980000.usb",
        (Function(9, 0, 0, "hub"),),
        version="2.00",
        max_power="0mA",
    ),
    hub=Profile(
        "0424",
        "9514",
        "0200",
        9,
        "",
        "",
        None,
        (Function(9, 0, 0, "hub"),),
        version="2.00",
        max_power="2mA",
    ),
    first_port=2,  # port 1 of the SMSC hub is its own ethernet chip
)


def topology_for(device_type: str) -> Topology:
    return PI4 if device_type.startswith("raspberrypi4") else PI3


# -- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class UsbEvent:
    """One uevent: what `udevadm monitor` prints (KERNEL first, then UDEV)."""

    seq: int
    time: float  # world uptime, seconds
    action: str  # add, remove, bind, unbind
    devpath: str
    subsystem: str
    devtype: str | None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SwitchResult:
    """What usb_modeswitch's run did to a device."""

    found: bool  # a device in default (storage) mode with those ids was there
    entry: ModeswitchEntry | None
    switched: bool  # the device left the bus (it will come back as `target`)
    target: str | None  # VID:PID it comes back as


# -- a modem on the bus -----------------------------------------------------------------


@dataclass
class Port:
    """A character device or net interface the modem exposes right now."""

    interface: int
    kind: str  # tty, net, wdm
    name: str  # ttyUSB2, wwan0, cdc-wdm0


@dataclass
class SimUsbModem:
    """One modem of the lab's `sim.modems`, at its port."""

    name: str
    spec: SimModem
    port: str  # "1.3": the hub port path after "usb-0:"
    id_path: str
    sys_name: str  # "1-1.3"
    devpath: str
    storage: Profile | None  # how it enumerates before usb_modeswitch, if it needs one
    modem_profile: Profile | None  # after the switch (None until the target is known)
    mode: str = "absent"  # storage, modem, absent
    devnum: int = 0
    ports: list[Port] = field(default_factory=list)
    enumerated_at: float = 0.0
    switched_to: str | None = None
    #: what the device comes back as after a switch, when the lab names its model
    hint: Profile | None = None
    #: counts every enumeration on this bus (never reset): who saw which one
    serial: int = 0

    @property
    def present(self) -> bool:
        return self.mode != "absent"

    @property
    def profile(self) -> Profile | None:
        if self.mode == "storage":
            return self.storage
        if self.mode == "modem":
            return self.modem_profile
        return None

    @property
    def vid(self) -> str | None:
        return self.profile.vid if self.profile else None

    @property
    def pid(self) -> str | None:
        return self.profile.pid if self.profile else None

    @property
    def vid_pid(self) -> str | None:
        return self.profile.vid_pid if self.profile else None

    @property
    def interfaces(self) -> tuple[Function, ...]:
        return self.profile.functions if self.profile else ()

    @property
    def drivers(self) -> list[str]:
        return list(dict.fromkeys(f.driver for f in self.interfaces if f.driver))

    @property
    def ttys(self) -> list[str]:
        return [f"/dev/{p.name}" for p in self.ports if p.kind == "tty"]

    @property
    def wdm(self) -> list[str]:
        return [f"/dev/{p.name}" for p in self.ports if p.kind == "wdm"]

    @property
    def net(self) -> list[str]:
        return [p.name for p in self.ports if p.kind == "net"]

    @property
    def at_port(self) -> str | None:
        """The tty ModemManager would use for AT commands (ID_MM_PORT_TYPE_AT_PRIMARY)."""
        for p in self.ports:
            f = self.interfaces[p.interface]
            if p.kind == "tty" and f.mm_port_type == "AT_PRIMARY":
                return f"/dev/{p.name}"
        return None


# -- the bus ----------------------------------------------------------------------------


class UsbBus:
    """The board's USB bus and its modems."""

    def __init__(self, world: World, db: ModeswitchDb | None = None) -> None:
        self.world = world
        self.topology = topology_for(world.device_type)
        self._db = db
        self._cond = threading.Condition(world.lock)
        self.events: list[UsbEvent] = []
        self._seq = 0
        self._schedule: list[tuple[float, int, str, SimUsbModem]] = []
        self._order = 0
        self._listeners: list[Callable[[UsbEvent], None]] = []
        self._next_devnum = 3
        self._serial = 0
        self.board_rules: list[UdevRule] = []
        #: the board's usb_modeswitch rules with their RUN command lines
        self.board_rule_runs: list[tuple[UdevRule, str]] = []
        self.modems: list[SimUsbModem] = [
            self._place(i, m) for i, m in enumerate(world.spec.modems)
        ]
        self.sysfs = SysfsMirror(world)
        self._listeners.append(self.sysfs.on_event)
        self.boot()
        threading.Thread(
            target=_tick, args=(weakref.ref(self),), daemon=True, name=f"sim-usb-{world.hostname}"
        ).start()

    # -- the database -------------------------------------------------------------
    @property
    def db(self) -> ModeswitchDb | None:
        if self._db is None:
            try:
                self._db = ModeswitchDb.load()
            except ModeswitchDataMissing:
                return None
        return self._db

    # -- placing modems -----------------------------------------------------------
    def _place(self, index: int, spec: SimModem) -> SimUsbModem:
        topo = self.topology
        if spec.usb_path and "-usb-0:" in spec.usb_path:
            port = spec.usb_path.rsplit("-usb-0:", 1)[1]
        else:
            port = f"1.{topo.first_port + 2 + index}"
        id_path = spec.usb_path or f"{topo.id_path}-usb-0:{port}"
        sys_name = f"1-{port}"
        parts = port.split(".")
        chain = [f"1-{'.'.join(parts[: i + 1])}" for i in range(len(parts))]
        devpath = f"{topo.controller}/usb1/" + "/".join(chain)
        vid, pid = spec.vid_pid.split(":")
        profile = PROFILES.get(spec.vid_pid)
        model = next((m.model for m in self.world.board.modems if m.name == spec.name), None)
        hw = find(spec.vid_pid, model)
        hint = None
        if spec.switches_to:  # a stick the lab describes: storage first, then its modem
            target = find(spec.switches_to, model)
            hint = _known(target) if target else None
            hint = (
                hint
                or PROFILES.get(spec.switches_to)
                or _generic_modem(*spec.switches_to.split(":"))
            )
            storage = profile or _generic_storage(vid, pid)
            return SimUsbModem(
                spec.name, spec, port, id_path, sys_name, devpath, storage, None, hint=hint
            )
        if hw is not None and hw.vid_pid == spec.vid_pid:
            profile = profile or _known(hw)
        elif hw is not None and model and hw.model.lower() == model.lower():
            hint = _known(hw)  # a named storage-mode stick: it comes back as its hardware
        storage_like = (profile is not None and all(f.cls == 8 for f in profile.functions)) or (
            profile is None and self.db is not None and self.db.switchable(vid, pid)
        )
        if storage_like:
            storage = profile or _generic_storage(vid, pid)
            modem_profile = None
        else:
            storage = None
            modem_profile = profile or _generic_modem(vid, pid)
        return SimUsbModem(
            spec.name, spec, port, id_path, sys_name, devpath, storage, modem_profile, hint=hint
        )

    def modem(self, name: str) -> SimUsbModem:
        for m in self.modems:
            if m.name == name:
                return m
        raise KeyError(name)

    def at_path(self, id_path: str) -> SimUsbModem | None:
        return next((m for m in self.modems if m.id_path == id_path), None)

    def subscribe(self, listener: Callable[[UsbEvent], None]) -> None:
        """Call `listener(event)` for every uevent from now on (under the world lock)."""
        self._listeners.append(listener)

    # -- time ---------------------------------------------------------------------
    def now(self) -> float:
        """World seconds since boot (the board's uptime; the clock is compressed)."""
        return self.world.clock.uptime() / self.world.clock.scale

    def real_seconds(self, world_seconds: float) -> float:
        return self.world.clock.real_seconds(world_seconds)

    def _at(self, world_time: float, action: str, modem: SimUsbModem) -> None:
        self._order += 1
        self._schedule.append((world_time, self._order, action, modem))
        self._schedule.sort(key=lambda x: (x[0], x[1]))
        self._cond.notify_all()

    def _unschedule(self, modem: SimUsbModem) -> None:
        self._schedule = [s for s in self._schedule if s[3] is not modem]

    def boot(self) -> None:
        """Power-on: every modem enumerates in its first mode; udev handles switches."""
        with self._cond:
            self._schedule.clear()
            self.events.clear()
            self._next_devnum = 3
            self.world.fs.write(DMESG, "")  # the kernel's ring buffer starts anew
            self._install_board_rules()
            usb_modeswitch.install(self)
            self.sysfs.reset(self._topology_records())
            for m in self.modems:
                m.mode, m.ports, m.switched_to = "absent", [], None
                if m.storage is not None:
                    m.modem_profile = None
                self._enumerate(m, 0.0)

    def advance(self) -> None:
        """Apply everything scheduled up to now (and the fault that re-enumerates modems)."""
        with self._cond:
            now = self.now()
            while self._schedule and self._schedule[0][0] <= now:
                when, _, action, modem = self._schedule.pop(0)
                self._apply(action, modem, when)

    def next_due(self) -> float | None:
        with self._cond:
            return self._schedule[0][0] if self._schedule else None

    def _apply(self, action: str, modem: SimUsbModem, when: float) -> None:
        if action == "udev-modeswitch":
            if modem.mode == "storage" and self._udev_would_switch(modem):
                usb_modeswitch.udev_switch(self, modem, when)
        elif action in ("enumerate-target", "plug") and not modem.present:
            self._enumerate(modem, when)

    # -- what udev and usb_modeswitch do ------------------------------------------------
    def _udev_would_switch(self, modem: SimUsbModem) -> bool:
        """udev runs usb_modeswitch for the device: a rule of usb-modeswitch-data with an
        entry in its database, or one of the board's own rules (config.json's
        `os.udevRules`) that runs usb_modeswitch with its own parameters."""
        if modem.storage is None:
            return False
        device = self._usb_device_view(modem)
        if any(_rule_applies(rule, device) for rule in self.board_rules):
            return True
        db = self.db
        if db is None:
            return False
        return db.triggered_by_udev(device) and db.switchable(modem.storage.vid, modem.storage.pid)

    def _install_board_rules(self) -> None:
        """balenaOS at boot: each `os.udevRules` entry of config.json becomes
        /etc/udev/rules.d/NAME.rules (the directory is rebuilt at every boot)."""
        fs = self.world.fs
        if fs.exists(RULES_DIR):
            fs.remove(RULES_DIR, recursive=True)
        fs.mkdir(RULES_DIR)
        self.board_rules = []
        self.board_rule_runs = []
        try:
            config = json.loads(fs.read_text(CONFIG_JSON))
        except (CommandError, ValueError):
            return
        rules = (config.get("os") or {}).get("udevRules") or {}
        if not isinstance(rules, dict):
            return
        for name, text in rules.items():
            if isinstance(text, str):
                fs.write(f"{RULES_DIR}/{name}.rules", text + "\n")
                self.board_rules += parse_rules(text)
                self.board_rule_runs += usb_modeswitch.rule_runs(text)

    def usb_device_view(self, modem: SimUsbModem):
        """The modem as `hil.usb` models a USB device (what udev's rules match)."""
        return self._usb_device_view(modem)

    def _usb_device_view(self, modem: SimUsbModem):
        from hil.usb.model import UdevTree

        tree = UdevTree(self._modem_records(modem))
        return next(d for d in tree.usb_devices() if d.devpath == modem.devpath)

    def _target(self, modem: SimUsbModem, entry: ModeswitchEntry | None) -> Profile:
        """The modem-mode profile: the first target of the database entry the sim knows."""
        assert modem.storage is not None
        if modem.hint is not None:
            return modem.hint
        if entry is None:
            return _generic_modem(modem.storage.vid, modem.storage.pid)
        vendor = entry.target_vendor or entry.vendor
        for product in entry.target_products:
            if f"{vendor}:{product}" in PROFILES:
                return PROFILES[f"{vendor}:{product}"]
        first = entry.target_products[0] if entry.target_products else entry.product
        return _generic_modem(vendor, first)

    def switch(self, modem: SimUsbModem) -> SwitchResult:
        """usb_modeswitch's run on the modem (the message is sent to its storage interface)."""
        with self._cond:
            self.advance()
            if modem.mode != "storage" or modem.storage is None:
                return SwitchResult(False, None, False, None)
            db = self.db
            entry = db.lookup(modem.storage.vid, modem.storage.pid) if db else None
            if entry is None and db is not None:
                variants = db.variants_of(modem.storage.vid, modem.storage.pid)
                entry = variants[0] if variants else None
            if self.world.fault(STUCK):
                return SwitchResult(True, entry, False, None)
            target = self._switch(modem, self.now(), entry)
            return SwitchResult(True, entry, True, target.vid_pid)

    def switch_now(
        self, modem: SimUsbModem, when: float, entry: ModeswitchEntry | None = None
    ) -> Profile:
        """The message reached the device at world time `when`: it leaves the bus and
        comes back as its modem-mode self (never under the stuck fault)."""
        return self._switch(modem, when, entry)

    def _switch(
        self, modem: SimUsbModem, when: float, entry: ModeswitchEntry | None = None
    ) -> Profile:
        if self.world.fault(STUCK):
            return modem.storage  # type: ignore[return-value]
        if entry is None and self.db is not None and modem.storage is not None:
            entry = self.db.lookup(modem.storage.vid, modem.storage.pid)
        target = self._target(modem, entry)
        modem.modem_profile = target
        modem.switched_to = target.vid_pid
        self._remove(modem, when)
        self._at(when + REENUMERATE_AFTER, "enumerate-target", modem)
        return target

    def replug(self, modem: SimUsbModem, off_for: float = 1.0) -> None:
        """Unplug now and plug back `off_for` world seconds later (a USB power cycle)."""
        with self._cond:
            self.unplug(modem)
            self._at(self.now() + off_for, "plug", modem)

    def unplug(self, modem: SimUsbModem) -> None:
        with self._cond:
            self.advance()
            self._unschedule(modem)
            if modem.present:
                self._remove(modem, self.now())
            if modem.storage is not None:
                modem.modem_profile = None  # it boots into storage mode again

    def plug(self, modem: SimUsbModem) -> None:
        with self._cond:
            self.advance()
            if not modem.present:
                self._enumerate(modem, self.now())

    # -- enumeration --------------------------------------------------------------------
    def _enumerate(self, modem: SimUsbModem, when: float) -> None:
        if modem.storage is not None and modem.modem_profile is None:
            modem.mode = "storage"
            self._at(when + SWITCH_AFTER, "udev-modeswitch", modem)
        else:
            modem.mode = "modem"
        modem.devnum = self._next_devnum
        self._next_devnum += 1
        self._serial += 1
        modem.serial = self._serial
        modem.enumerated_at = when
        modem.ports = self._allocate_ports(modem)
        self._kernel_log(when, modem, "add")
        for record in self._modem_records(modem):
            self._emit(when, "add", record)
        self._emit(when, "bind", self._usb_device_record(modem))

    def _remove(self, modem: SimUsbModem, when: float) -> None:
        records = self._modem_records(modem)
        self._kernel_log(when, modem, "remove")
        modem.mode = "absent"
        modem.ports = []
        for record in reversed(records):
            self._emit(when, "remove", record)

    def _kernel_log(self, when: float, modem: SimUsbModem, action: str) -> None:
        """The kernel's lines about the device (`dmesg`), as the USB core prints them."""
        p = modem.profile
        if p is None:
            return
        dev = f"usb {modem.sys_name}"
        if action == "add":
            bcd = f"{int(p.bcd[:2], 16)}.{p.bcd[2:]}"
            lines = [
                f"{dev}: new high-speed USB device number {modem.devnum} using {self._hcd()}",
                f"{dev}: New USB device found, idVendor={p.vid}, idProduct={p.pid}, "
                f"bcdDevice={bcd:>5}",
                f"{dev}: New USB device strings: Mfr=1, Product=2, "
                f"SerialNumber={3 if p.serial else 0}",
                f"{dev}: Product: {p.product}",
                f"{dev}: Manufacturer: {p.manufacturer}",
            ]
            if p.serial:
                lines.append(f"{dev}: SerialNumber: {p.serial}")
        else:
            lines = [f"{dev}: USB disconnect, device number {modem.devnum}"]
        log = "".join(f"[{when:12.6f}] {line}\n" for line in lines)
        self.world.fs.append(DMESG, log.encode())

    def _hcd(self) -> str:
        return "xhci_hcd" if self.topology is PI4 else "dwc_otg"

    def _allocate_ports(self, modem: SimUsbModem) -> list[Port]:
        """Lowest free ttyUSB/cdc-wdm/wwan numbers, as the kernel hands them out."""
        used = {p.name for m in self.modems if m is not modem for p in m.ports}
        ports: list[Port] = []

        def free(prefix: str) -> str:
            n = 0
            while f"{prefix}{n}" in used or any(p.name == f"{prefix}{n}" for p in ports):
                n += 1
            return f"{prefix}{n}"

        profile = modem.profile
        assert profile is not None
        for i, f in enumerate(profile.functions):
            if f.port == "tty":
                ports.append(Port(i, "tty", free("ttyUSB")))
            elif f.port == "wdm+net":
                ports.append(Port(i, "wdm", free("cdc-wdm")))
                ports.append(Port(i, "net", free(f.net_prefix)))
            elif f.port == "net":
                name = _free_eth(used | {p.name for p in ports})
                ports.append(Port(i, "net", name if f.net_prefix == "eth" else free(f.net_prefix)))
        return ports

    def _emit(self, when: float, action: str, record: UdevRecord) -> None:
        self._seq += 1
        event = UsbEvent(
            self._seq,
            when,
            action,
            record.devpath,
            record.subsystem or "",
            record.devtype,
            tuple(record.properties.items()),
        )
        self.events.append(event)
        del self.events[:-2000]  # a long run with a flapping modem keeps the recent ones
        for listener in self._listeners:
            listener(event)
        self._cond.notify_all()

    def wait_event(
        self, after_seq: int, timeout: float, interrupt: threading.Event
    ) -> list[UsbEvent]:
        """Events with seq > after_seq; blocks (real seconds) until some arrive or timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self.advance()
                new = [e for e in self.events if e.seq > after_seq]
                if new or interrupt.is_set():
                    return new
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                due = self._schedule[0][0] if self._schedule else None
                if due is not None:
                    remaining = min(
                        remaining, max(0.0, self.real_seconds(due - self.now())) + 0.001
                    )
                self._cond.wait(min(remaining, 0.2))

    # -- udev's view ------------------------------------------------------------------
    def records(self) -> list[UdevRecord]:
        """Every USB record udev has now: root hub, hub, modems with their children."""
        with self._cond:
            self.advance()
            out = self._topology_records()
            for m in self.modems:
                if m.present:
                    out.extend(self._modem_records(m))
            return out

    def _kernel(self) -> str:
        return f"{self.world.kernel}-v8" if self.topology is PI4 else f"{self.world.kernel}-v7+"

    def _topology_records(self) -> list[UdevRecord]:
        topo = self.topology
        root = f"{topo.controller}/usb1"
        hub = f"{root}/1-1"
        rh = topo.root_hub
        rh = Profile(
            rh.vid,
            rh.pid,
            rh.bcd,
            rh.device_class,
            rh.manufacturer.format(kernel=self._kernel()),
            rh.product,
            rh.serial or topo.id_path.split("-", 1)[1],
            rh.functions,
            rh.version,
            rh.max_power,
        )
        return [
            *self._device_records(rh, root, topo.id_path, 1, tuple(), "usb1"),
            *self._device_records(topo.hub, hub, f"{topo.id_path}-usb-0:1", 2, tuple(), "1-1"),
        ]

    def _usb_device_record(self, modem: SimUsbModem) -> UdevRecord:
        return self._modem_records(modem)[0]

    def _modem_records(self, modem: SimUsbModem) -> list[UdevRecord]:
        profile = modem.profile
        if profile is None:
            return []
        return self._device_records(
            profile, modem.devpath, modem.id_path, modem.devnum, tuple(modem.ports), modem.sys_name
        )

    def _device_records(
        self,
        p: Profile,
        devpath: str,
        id_path: str,
        devnum: int,
        ports: tuple[Port, ...],
        sys_name: str,
    ) -> list[UdevRecord]:
        return device_records(p, devpath, id_path, devnum, ports, sys_name)

    def export_db(self) -> str:
        return "".join(format_record(r) for r in self.records())


def _rule_applies(rule: UdevRule, device) -> bool:
    first = device.interfaces[0] if device.interfaces else None
    if first is None:
        return False
    return rule.applies(device.vid, device.pid, first.cls, first.number, device.manufacturer)


def _free_eth(used: set[str]) -> str:
    n = 1  # eth0 is the board's own
    while f"eth{n}" in used:
        n += 1
    return f"eth{n}"


# -- records as udev would have them ------------------------------------------------------


def _enc(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else f"\\x{ord(c):02x}" for c in text)


def _san(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in text.strip())


def _tag(id_path: str) -> str:
    return id_path.replace(".", "_").replace(":", "_")


def device_records(
    p: Profile, devpath: str, id_path: str, devnum: int, ports: tuple[Port, ...], sys_name: str
) -> list[UdevRecord]:
    """udev's records of one USB device: the device, its interfaces, their ttys/net/wdm."""
    vendor = _san(p.manufacturer) if p.manufacturer else p.vid
    model = _san(p.product) if p.product else p.pid
    serial = "_".join(x for x in (vendor, model, p.serial or "") if x)
    triples = list(dict.fromkeys(f"{f.cls:02x}{f.sub:02x}{f.proto:02x}" for f in p.functions))
    product = f"{int(p.vid, 16):x}/{int(p.pid, 16):x}/{int(p.bcd, 16):x}"
    dev_props = {
        "DEVPATH": devpath,
        "SUBSYSTEM": "usb",
        "DEVNAME": f"/dev/bus/usb/001/{devnum:03d}",
        "DEVTYPE": "usb_device",
        "DRIVER": "usb",
        "PRODUCT": product,
        "TYPE": f"{p.device_class}/0/{1 if p.device_class == 9 else 0}",
        "BUSNUM": "001",
        "DEVNUM": f"{devnum:03d}",
        "MAJOR": "189",
        "MINOR": str(devnum - 1),
        "ID_BUS": "usb",
        "ID_VENDOR": vendor,
        "ID_VENDOR_ENC": _enc(p.manufacturer) if p.manufacturer else p.vid,
        "ID_VENDOR_ID": p.vid,
        "ID_MODEL": model,
        "ID_MODEL_ENC": _enc(p.product) if p.product else p.pid,
        "ID_MODEL_ID": p.pid,
        "ID_REVISION": p.bcd,
        "ID_SERIAL": serial,
        **({"ID_SERIAL_SHORT": p.serial} if p.serial else {}),
        "ID_USB_INTERFACES": ":" + ":".join(triples) + ":",
        "ID_PATH": id_path,
        "ID_PATH_TAG": _tag(id_path),
    }
    dev = UdevRecord(
        devpath,
        "usb",
        "usb_device",
        "usb",
        f"/dev/bus/usb/001/{devnum:03d}",
        dev_props,
        {"idVendor": p.vid, "idProduct": p.pid, "bNumInterfaces": str(len(p.functions))},
    )
    out = [dev]
    # a root hub "usb1" has its interface as "1-0:1.0"; a device "1-1.3" as "1-1.3:1.0"
    base = f"{sys_name[3:]}-0" if sys_name.startswith("usb") else sys_name
    for i, f in enumerate(p.functions):
        ipath = f"{devpath}/{base}:1.{i}"
        iprops = {
            "DEVPATH": ipath,
            "SUBSYSTEM": "usb",
            "DEVTYPE": "usb_interface",
            **({"DRIVER": f.driver} if f.driver else {}),
            "PRODUCT": product,
            "TYPE": f"{p.device_class}/0/0",
            "INTERFACE": f"{f.cls}/{f.sub}/{f.proto}",
            "MODALIAS": (
                f"usb:v{p.vid.upper()}p{p.pid.upper()}d{p.bcd.upper()}dc{p.device_class:02X}"
                f"dsc00dp00ic{f.cls:02X}isc{f.sub:02X}ip{f.proto:02X}in{i:02X}"
            ),
        }
        out.append(UdevRecord(ipath, "usb", "usb_interface", f.driver, None, iprops))
        if_path = f"{id_path}:1.{i}"
        common = {
            "ID_BUS": "usb",
            "ID_MODEL_ID": p.pid,
            "ID_VENDOR_ID": p.vid,
            "ID_PATH": if_path,
            "ID_PATH_TAG": _tag(if_path),
            "ID_USB_DRIVER": f.driver or "",
            "ID_USB_INTERFACE_NUM": f"{i:02x}",
            "ID_MM_CANDIDATE": "1",
        }
        for port in (x for x in ports if x.interface == i):
            if port.kind == "tty":
                n = int(port.name[len("ttyUSB") :])
                tpath = f"{ipath}/{port.name}/tty/{port.name}"
                props = {
                    "DEVPATH": tpath,
                    "SUBSYSTEM": "tty",
                    "DEVNAME": f"/dev/{port.name}",
                    "MAJOR": "188",
                    "MINOR": str(n),
                    **common,
                    **({f"ID_MM_PORT_TYPE_{f.mm_port_type}": "1"} if f.mm_port_type else {}),
                    "DEVLINKS": f"/dev/serial/by-path/{if_path}-port0",
                }
                out.append(UdevRecord(tpath, "tty", None, None, f"/dev/{port.name}", props))
            elif port.kind == "wdm":
                n = int(port.name[len("cdc-wdm") :])
                wpath = f"{ipath}/usbmisc/{port.name}"
                props = {
                    "DEVPATH": wpath,
                    "SUBSYSTEM": "usbmisc",
                    "DEVNAME": f"/dev/{port.name}",
                    "MAJOR": "180",
                    "MINOR": str(176 + n),
                    **common,
                }
                out.append(UdevRecord(wpath, "usbmisc", None, None, f"/dev/{port.name}", props))
            elif port.kind == "net":
                npath = f"{ipath}/net/{port.name}"
                wwan = port.name.startswith("wwan")
                props = {
                    "DEVPATH": npath,
                    "SUBSYSTEM": "net",
                    **({"DEVTYPE": "wwan"} if wwan else {}),
                    "INTERFACE": port.name,
                    "IFINDEX": str(10 + devnum),
                    **common,
                    "ID_NET_DRIVER": f.driver or "",
                }
                out.append(UdevRecord(npath, "net", "wwan" if wwan else None, None, None, props))
    return out


def format_record(r: UdevRecord) -> str:
    """One record as systemd 252's `udevadm info` prints it (P M R U T D I N L S V E)."""
    name = r.sys_name
    lines = [f"P: {r.devpath}", f"M: {name}"]
    sysnum = _trailing_digits(name)
    if sysnum:
        lines.append(f"R: {sysnum}")
    if r.subsystem:
        lines.append(f"U: {r.subsystem}")
    if r.devtype:
        lines.append(f"T: {r.devtype}")
    major, minor = r.properties.get("MAJOR"), r.properties.get("MINOR")
    if major and minor:
        lines.append(f"D: c {major}:{minor}")
    if r.subsystem == "net" and r.properties.get("IFINDEX"):
        lines.append(f"I: {r.properties['IFINDEX']}")
    if r.devnode:
        lines.append(f"N: {r.devnode[len('/dev/') :]}")
        lines.append("L: 0")
    for link in r.properties.get("DEVLINKS", "").split():
        lines.append(f"S: {link[len('/dev/') :]}")
    if r.driver:
        lines.append(f"V: {r.driver}")
    for k, v in r.properties.items():
        lines.append(f"E: {k}={v}")
    return "\n".join(lines) + "\n\n"


def _trailing_digits(name: str) -> str:
    n = ""
    for c in reversed(name):
        if not c.isdigit():
            break
        n = c + n
    return n


def _tick(ref: weakref.ref[UsbBus]) -> None:
    """Keeps the bus live: applies what is due even when no command looks (so /sys and
    listeners follow a switch as it happens); ends when the bus is gone."""
    while True:
        bus = ref()
        if bus is None:
            return
        with bus._cond:
            bus.advance()
            due = bus._schedule[0][0] if bus._schedule else None
            wait = 0.25 if due is None else min(0.25, max(0.002, bus.real_seconds(due - bus.now())))
            cond = bus._cond
        del bus
        with cond:
            cond.wait(wait)


class SysfsMirror:
    """The bus as files in the board's /sys and /dev, so `ls`/`cat` see what udev sees."""

    ROOTS = ("/sys/bus/usb/devices", "/sys/class/tty", "/sys/class/net", "/sys/class/usbmisc")

    def __init__(self, world: World) -> None:
        self.fs = world.fs

    def reset(self, topology: list[UdevRecord]) -> None:
        for root in self.ROOTS:
            if self.fs.exists(root):
                for name in self.fs.listdir(root):
                    if root != "/sys/class/net" or self._ours(f"{root}/{name}"):
                        self.fs.remove(f"{root}/{name}", recursive=True)
            self.fs.mkdir(root)
        for name in self.fs.listdir("/dev") if self.fs.isdir("/dev") else []:
            if name.startswith(("ttyUSB", "cdc-wdm")):
                self.fs.remove(f"/dev/{name}")
        for record in topology:
            self._add(record)

    def _ours(self, path: str) -> bool:
        return self.fs.exists(f"{path}/.hil-usb")

    def on_event(self, event: UsbEvent) -> None:
        props = dict(event.properties)
        record = UdevRecord(
            event.devpath,
            event.subsystem,
            event.devtype,
            props.get("DRIVER"),
            props.get("DEVNAME"),
            props,
        )
        if event.action == "add":
            self._add(record)
        elif event.action == "remove":
            self._remove(record)

    def _dir(self, r: UdevRecord) -> str | None:
        if r.subsystem == "usb":
            return f"/sys/bus/usb/devices/{r.sys_name}"
        if r.subsystem in ("tty", "net", "usbmisc"):
            return f"/sys/class/{r.subsystem}/{r.sys_name}"
        return None

    def _add(self, r: UdevRecord) -> None:
        d = self._dir(r)
        if d is None:
            return
        p = r.properties
        uevent = "".join(
            f"{k}={v}\n" for k, v in p.items() if not k.startswith(("ID_", "DEVLINKS"))
        )
        files = {"uevent": uevent, ".hil-usb": ""}
        if r.devtype == "usb_device":
            vid, pid, bcd = [*p.get("PRODUCT", "0/0/0").split("/"), "0", "0"][:3]
            files |= {
                "idVendor": f"{int(vid, 16):04x}",
                "idProduct": f"{int(pid, 16):04x}",
                "bcdDevice": f"{int(bcd, 16):04x}",
                "busnum": str(int(p.get("BUSNUM", "1"))),
                "devnum": str(int(p.get("DEVNUM", "1"))),
                "devpath": r.sys_name.split("-", 1)[1] if "-" in r.sys_name else "0",
                "bNumInterfaces": f"{r.attributes.get('bNumInterfaces', '1'):>2}",
                "speed": "480",
            }
            for key, attr in (("ID_VENDOR_ENC", "manufacturer"), ("ID_MODEL_ENC", "product")):
                if p.get(key) and p.get(key) not in (p.get("ID_VENDOR_ID"), p.get("ID_MODEL_ID")):
                    files[attr] = _unenc(p[key])
            if p.get("ID_SERIAL_SHORT"):
                files["serial"] = p["ID_SERIAL_SHORT"]
        elif r.devtype == "usb_interface":
            cls, sub, proto = (int(x) for x in p.get("INTERFACE", "0/0/0").split("/"))
            files |= {
                "bInterfaceClass": f"{cls:02x}",
                "bInterfaceSubClass": f"{sub:02x}",
                "bInterfaceProtocol": f"{proto:02x}",
                "bInterfaceNumber": f"{int(r.sys_name.rsplit('.', 1)[1]):02x}",
                "modalias": p.get("MODALIAS", ""),
            }
        elif r.subsystem in ("tty", "usbmisc"):
            files["dev"] = f"{p.get('MAJOR')}:{p.get('MINOR')}"
            if r.devnode:
                self.fs.write(r.devnode, b"", mode=0o660)
        elif r.subsystem == "net":
            files |= {"ifindex": p.get("IFINDEX", "0"), "operstate": "down", "mtu": "1500"}
        for name, text in files.items():
            self.fs.write(f"{d}/{name}", text + ("\n" if text and name != "uevent" else ""))

    def _remove(self, r: UdevRecord) -> None:
        d = self._dir(r)
        if d is not None and self.fs.exists(d):
            self.fs.remove(d, recursive=True)
        if r.devnode and r.subsystem in ("tty", "usbmisc") and self.fs.exists(r.devnode):
            self.fs.remove(r.devnode)


def _unenc(text: str) -> str:
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def usb_bus(world: World) -> UsbBus:
    """The board's USB bus, created on first use and rebuilt at every boot."""
    with world.lock:
        bus = world.subsystems.get("usb")
        if not isinstance(bus, UsbBus):
            bus = UsbBus(world)
            world.subsystems["usb"] = bus
            world.boot_hooks.append(lambda w: bus.boot())
        return bus


def usb_port_request(world: World, modem: str, action: str) -> dict:
    """The lab side's USB port control (the control socket's `usb` op): replug, unplug,
    plug a modem's port, as a switchable hub (uhubctl) does on a rig."""
    bus = usb_bus(world)
    try:
        m = bus.modem(modem)
    except KeyError:
        names = ", ".join(x.name for x in bus.modems) or "none"
        return {"ok": False, "error": f"no modem {modem!r} on the sim bus (modems: {names})"}
    actions = {"replug": bus.replug, "unplug": bus.unplug, "plug": bus.plug}
    if action not in actions:
        return {"ok": False, "error": f"unknown usb action {action!r} (replug, unplug, plug)"}
    actions[action](m)
    return {"ok": True, "mode": m.mode, "vid_pid": m.vid_pid}
