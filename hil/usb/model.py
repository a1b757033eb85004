"""One model of the USB devices udev knows, whichever side it was read from.

Two sources fill it: pyudev on the lab host (`hil.usb.host`) and a board's
`udevadm info --export-db` read over its console (`hil.probes.udevadm`). Both
produce `UdevRecord`s — a device as udev describes it: devpath, subsystem,
devtype, driver, device node and properties — gathered in a `UdevTree`, from
which `usb_devices()` builds the `UsbDevice`s (a USB device with its
interfaces, their drivers, ttys and network interfaces) that matching, mode
classification and `hil devices` work on.

Formats follow DESIGN.md: ids are 4 lowercase hex digits, ttys `/dev/...`.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from hil.probes.udevadm import UdevRecord

Mode = Literal["storage", "modem", "unknown"]
Kind = Literal["modem", "console"]

#: interface drivers that make a USB device a cellular modem in modem mode
MODEM_DRIVERS = frozenset(
    {
        "option",
        "qcserial",
        "sierra",
        "cdc_acm",
        "qmi_wwan",
        "cdc_mbim",
        "cdc_ether",
        "cdc_ncm",
        "huawei_cdc_ncm",
        "rndis_host",
        "sierra_net",
    }
)
#: drivers of USB-serial adapters (a board's console on the lab host)
CONSOLE_DRIVERS = frozenset({"ftdi_sio", "cp210x", "ch341", "pl2303", "usb_serial_simple"})

USB_CLASS_STORAGE = 0x08
USB_CLASS_COMM = 0x02
USB_CLASS_DATA = 0x0A
USB_CLASS_VENDOR = 0xFF


def hex4(value: str | int) -> str:
    """An id as DESIGN.md writes it: 4 lowercase hex digits, no `0x`."""
    if isinstance(value, int):
        return f"{value:04x}"
    text = value.strip().lower()
    text = text[2:] if text.startswith("0x") else text
    return f"{int(text, 16):04x}"


class UdevTree:
    """Records by devpath, with the parent/child links sysfs paths imply.

    `add` and `discard` change it in place as udev events do (a waiter follows a
    bus of thousands of records without building the tree again per event)."""

    def __init__(self, records: Iterable[UdevRecord]) -> None:
        self.records: dict[str, UdevRecord] = {r.devpath: r for r in records}
        #: children of each path, sorted; the records without a parent under None
        self._children: dict[str | None, list[str]] = {}
        self._parent: dict[str, str | None] = {}
        for path in sorted(self.records):
            parent = self._find_parent(path)
            self._parent[path] = parent
            self._children.setdefault(parent, []).append(path)

    def add(self, record: UdevRecord) -> None:
        """Add a record, or replace the one at its devpath; links as a new tree would have."""
        path = record.devpath
        known = path in self.records
        self.records[path] = record
        if known:
            return
        parent = self._find_parent(path)
        self._parent[path] = parent
        siblings = self._children.setdefault(parent, [])
        below = [p for p in siblings if p.startswith(path + "/")]  # now hang from it
        for p in below:
            siblings.remove(p)
            self._parent[p] = path
        if below:
            self._children[path] = below
        bisect.insort(siblings, path)

    def discard(self, devpath: str) -> set[str]:
        """Remove a record and every record below it (a device that left); the paths removed."""
        if devpath in self.records:
            gone = {devpath, *(r.devpath for r in self.descendants(self.records[devpath]))}
        else:  # not listed itself: whatever was below it
            gone = {p for p in self.records if p.startswith(devpath + "/")}
        for path in gone:
            del self.records[path]
            parent = self._parent.pop(path)
            if parent not in gone:
                self._children[parent].remove(path)
            self._children.pop(path, None)
        return gone

    def _find_parent(self, path: str) -> str | None:
        up = posixpath.dirname(path)
        while up not in ("/", "", "/devices"):
            if up in self.records:
                return up
            up = posixpath.dirname(up)
        return None

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[UdevRecord]:
        return iter(self.records.values())

    def parent(self, record: UdevRecord) -> UdevRecord | None:
        p = self._parent.get(record.devpath)
        return self.records[p] if p else None

    def ancestors(self, record: UdevRecord) -> Iterator[UdevRecord]:
        """Parent, grandparent, … up to the root (the record itself excluded)."""
        node = self.parent(record)
        while node is not None:
            yield node
            node = self.parent(node)

    def children(self, record: UdevRecord) -> list[UdevRecord]:
        return [self.records[p] for p in self._children.get(record.devpath, [])]

    def descendants(self, record: UdevRecord) -> Iterator[UdevRecord]:
        stack = list(reversed(self._children.get(record.devpath, [])))
        while stack:
            path = stack.pop()
            yield self.records[path]
            stack.extend(reversed(self._children.get(path, [])))

    def usb_devices(self) -> list[UsbDevice]:
        """Every `usb_device` (root hubs included), with its interfaces and ports."""
        return [
            build_usb_device(self, r)
            for r in self.records.values()
            if r.subsystem == "usb" and r.devtype == "usb_device"
        ]


@dataclass(frozen=True)
class UsbInterface:
    """One interface of a USB device in its active configuration."""

    sys_name: str  # e.g. 1-1.3:1.0
    number: int
    cls: int
    subclass: int
    protocol: int
    driver: str | None
    ttys: tuple[str, ...] = ()  # /dev/ttyUSB0, /dev/ttyACM0
    wdm: tuple[str, ...] = ()  # /dev/cdc-wdm0 (QMI/MBIM control ports)
    net: tuple[str, ...] = ()  # wwan0, eth1

    @property
    def class_triple(self) -> str:
        """As udev's ID_USB_INTERFACES writes it: `080650`."""
        return f"{self.cls:02x}{self.subclass:02x}{self.protocol:02x}"


@dataclass(frozen=True)
class UsbDevice:
    """A USB device at a physical port, as seen in one snapshot of udev."""

    devpath: str
    id_path: str | None
    vid: str
    pid: str
    busnum: int | None
    devnum: int | None
    manufacturer: str | None
    product: str | None
    serial: str | None
    interfaces: tuple[UsbInterface, ...]
    properties: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: bNumInterfaces of the active configuration, when the source can read sysfs
    num_interfaces: int | None = None

    @property
    def sys_name(self) -> str:
        return posixpath.basename(self.devpath)

    @property
    def vid_pid(self) -> str:
        return f"{self.vid}:{self.pid}"

    @property
    def drivers(self) -> list[str]:
        """The interface drivers, in interface order, each once."""
        return list(dict.fromkeys(i.driver for i in self.interfaces if i.driver))

    @property
    def ttys(self) -> list[str]:
        """Character-device ports: ttys, then cdc-wdm control ports."""
        return [t for i in self.interfaces for t in i.ttys] + [
            w for i in self.interfaces for w in i.wdm
        ]

    @property
    def net(self) -> list[str]:
        return [n for i in self.interfaces for n in i.net]

    @property
    def is_hub(self) -> bool:
        return any(i.cls == 0x09 for i in self.interfaces) or self.properties.get(
            "TYPE", ""
        ).startswith("9/")

    @property
    def complete(self) -> bool:
        """All interfaces of the configuration are there (enumeration has finished),
        as far as the source can tell."""
        return self.num_interfaces is None or len(self.interfaces) >= self.num_interfaces

    @property
    def mode(self) -> Mode:
        return classify_mode(self)

    @property
    def kind(self) -> Kind | None:
        return classify_kind(self)

    def describe(self) -> str:
        """One line for messages: port, ids, mode, drivers."""
        drivers = ",".join(self.drivers) or "no drivers"
        return f"{self.id_path or self.devpath} {self.vid_pid} ({self.mode}; {drivers})"


def classify_mode(device: UsbDevice) -> Mode:
    """`storage`: only mass-storage interfaces (class 08) — the state before usb_modeswitch.
    `modem`: a serial/ACM/QMI/MBIM/NCM/ECM interface bound to its modem driver.
    `unknown`: anything else (e.g. vendor interfaces no driver claimed)."""
    interfaces = device.interfaces
    if not interfaces:
        return "unknown"
    if all(i.cls == USB_CLASS_STORAGE for i in interfaces):
        return "storage"
    if any(i.driver in MODEM_DRIVERS for i in interfaces):
        return "modem"
    return "unknown"


def classify_kind(device: UsbDevice) -> Kind | None:
    """`console` for a USB-serial adapter, `modem` for a cellular modem, None otherwise.

    A storage-only device counts as a modem only when it carries udev's
    modeswitch hint or usb_modeswitch knows it; `hil.usb.inventory` decides the
    latter, here only the interfaces speak."""
    drivers = set(device.drivers)
    if drivers & CONSOLE_DRIVERS and not drivers & (MODEM_DRIVERS - {"cdc_acm"}):
        return "console"
    if drivers & (MODEM_DRIVERS - {"cdc_acm"}):
        return "modem"
    if "cdc_acm" in drivers:
        # one ACM function is a console (a board's own USB gadget, a debug probe);
        # modems expose several ports, or ModemManager's udev rules tag them
        acm = [i for i in device.interfaces if i.driver == "cdc_acm" and i.ttys]
        return "modem" if len(acm) > 1 or _mm_tagged(device) else "console"
    return None


def _mm_tagged(device: UsbDevice) -> bool:
    return any(k.startswith("ID_MM_") and k != "ID_MM_CANDIDATE" for k in device.properties)


# -- building a UsbDevice from records ------------------------------------------

_IFACE_NAME = re.compile(r"^\d+-[\d.]+:\d+\.(\d+)$")


def _int(value: str | None, base: int = 10) -> int | None:
    try:
        return int(value, base) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _ids(record: UdevRecord) -> tuple[str, str]:
    p, a = record.properties, record.attributes
    vid, pid = p.get("ID_VENDOR_ID"), p.get("ID_MODEL_ID")
    if not (vid and pid) and p.get("PRODUCT"):
        parts = p["PRODUCT"].split("/")
        if len(parts) >= 2:
            vid, pid = parts[0], parts[1]
    vid = vid or a.get("idVendor") or "0"
    pid = pid or a.get("idProduct") or "0"
    return hex4(vid), hex4(pid)


def _interface(tree: UdevTree, record: UdevRecord) -> UsbInterface:
    p, a = record.properties, record.attributes
    triple = [_int(x) for x in p.get("INTERFACE", "").split("/")] if "INTERFACE" in p else []
    if len(triple) != 3 or None in triple:
        triple = [
            _int(a.get("bInterfaceClass"), 16),
            _int(a.get("bInterfaceSubClass"), 16),
            _int(a.get("bInterfaceProtocol"), 16),
        ]
    cls, sub, proto = (x if x is not None else -1 for x in triple)
    m = _IFACE_NAME.match(record.sys_name)
    number = int(m.group(1)) if m else (_int(a.get("bInterfaceNumber"), 16) or 0)
    ttys: list[str] = []
    wdm: list[str] = []
    net: list[str] = []
    for child in tree.descendants(record):
        if child.subsystem == "net":
            net.append(child.properties.get("INTERFACE") or child.sys_name)
            continue
        if child.subsystem not in ("tty", "usbmisc"):
            continue
        node = child.devnode or child.properties.get("DEVNAME")
        if node:
            (ttys if child.subsystem == "tty" else wdm).append(node)
    return UsbInterface(
        sys_name=record.sys_name,
        number=number,
        cls=cls,
        subclass=sub,
        protocol=proto,
        driver=record.driver or p.get("DRIVER"),
        ttys=tuple(sorted(ttys, key=_natural)),
        wdm=tuple(sorted(wdm, key=_natural)),
        net=tuple(sorted(net, key=_natural)),
    )


def _natural(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def build_usb_device(tree: UdevTree, record: UdevRecord) -> UsbDevice:
    """The `UsbDevice` of one `usb_device` record and the records below it."""
    p, a = record.properties, record.attributes
    vid, pid = _ids(record)
    interfaces = sorted(
        (
            _interface(tree, r)
            for r in tree.children(record)  # a device's interfaces are its own children
            if r.subsystem == "usb" and r.devtype == "usb_interface"
        ),
        key=lambda i: i.number,
    )
    return UsbDevice(
        devpath=record.devpath,
        id_path=p.get("ID_PATH"),
        vid=vid,
        pid=pid,
        busnum=_int(p.get("BUSNUM") or a.get("busnum")),
        devnum=_int(p.get("DEVNUM") or a.get("devnum")),
        manufacturer=a.get("manufacturer")
        or _unescape(p.get("ID_VENDOR_ENC"))
        or p.get("ID_VENDOR"),
        product=a.get("product") or _unescape(p.get("ID_MODEL_ENC")) or p.get("ID_MODEL"),
        serial=a.get("serial") or p.get("ID_SERIAL_SHORT"),
        interfaces=tuple(interfaces),
        properties=p,  # as read: a lazy source's are then read only if listed
        num_interfaces=_int(a.get("bNumInterfaces")),
    )


def _unescape(value: str | None) -> str | None:
    """udev's `\\x20` escapes (ID_VENDOR_ENC) back to text."""
    if value is None:
        return None
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value).strip()
