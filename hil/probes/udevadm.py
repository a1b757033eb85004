"""Parsers of `udevadm info` / `udevadm info --export-db` and `udevadm monitor` output.

An export is a list of records separated by blank lines; each line is one
letter, a colon and a value (systemd 252):

    P: /devices/.../1-1.3          devpath
    M: 1-1.3                       sys name        R: 3     sys number
    U: usb                         subsystem       T: usb_device  devtype
    D: c 189:3                     device number   N: bus/usb/001/004  node under /dev
    L: 0                           link priority   S: serial/by-id/...  symlink under /dev
    V: usb                         driver          E: KEY=value   property
    Q: 1 / I: 3 / J: c189:3        diskseq, ifindex, device id (ignored here)

Older udev prints only P/N/S/E (driver and subsystem then come from the
DRIVER/SUBSYSTEM/DEVTYPE properties); both read into the same `UdevRecord`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_LINE = re.compile(r"^([A-Z]): ?(.*)$")
_MONITOR = re.compile(
    r"^(?P<source>KERNEL|UDEV)\s*\[\s*(?P<time>[\d.]+)\]\s+(?P<action>\w+)\s+"
    r"(?P<devpath>/\S+)\s+\((?P<subsystem>[^)]*)\)\s*$"
)


@dataclass(frozen=True)
class UdevRecord:
    """One device as udev describes it (a record of `udevadm info --export-db`)."""

    devpath: str
    subsystem: str | None = None
    devtype: str | None = None
    driver: str | None = None
    devnode: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    #: sysfs attributes, when the source can read them (pyudev can, an export cannot)
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def sys_name(self) -> str:
        return posixpath.basename(self.devpath)

    @property
    def sys_path(self) -> str:
        return "/sys" + self.devpath

    def get(self, key: str) -> str | None:
        """A match key's value: a property, or one of the pseudo-keys labgrid users know
        (`sys_name`, `subsystem`, `devtype`, `driver`, `devnode`, `devpath`)."""
        pseudo = {
            "sys_name": self.sys_name,
            "subsystem": self.subsystem,
            "devtype": self.devtype,
            "driver": self.driver,
            "devnode": self.devnode,
            "devpath": self.devpath,
        }
        if key in pseudo:
            return pseudo[key]
        if key.startswith("ATTR{") and key.endswith("}"):
            return self.attributes.get(key[5:-1])
        return self.properties.get(key)


class UdevParseError(ValueError):
    """A line of udevadm output that is not `X: value` inside a record."""


def parse_export_db(text: str, source: str = "udevadm info --export-db") -> list[UdevRecord]:
    """Every record of an export (or of one `udevadm info` call), in order."""
    records: list[UdevRecord] = []
    block: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.replace("\r", "").split("\n"), start=1):
        line = raw.strip()
        if not line:
            if block:
                records.append(_record(block, source))
                block = []
            continue
        m = _LINE.match(line)
        if not m:
            raise UdevParseError(f"{source}: line {number}: expected 'X: value', got {line!r}")
        block.append((number, m.group(1), m.group(2)))
    if block:
        records.append(_record(block, source))
    return records


def _record(block: list[tuple[int, str, str]], source: str) -> UdevRecord:
    first_line, key, value = block[0]
    if key != "P":
        raise UdevParseError(f"{source}: line {first_line}: a record starts with 'P:', got {key!r}")
    devpath = value
    props: dict[str, str] = {}
    subsystem = devtype = driver = devnode = None
    for number, key, value in block[1:]:
        if key == "E":
            name, sep, val = value.partition("=")
            if not sep:
                raise UdevParseError(
                    f"{source}: line {number}: expected E: KEY=value, got {value!r}"
                )
            props[name] = val
        elif key == "U":
            subsystem = value
        elif key == "T":
            devtype = value
        elif key == "V":
            driver = value
        elif key == "N":
            devnode = "/dev/" + value
    return UdevRecord(
        devpath=devpath,
        subsystem=subsystem or props.get("SUBSYSTEM"),
        devtype=devtype or props.get("DEVTYPE"),
        driver=driver or props.get("DRIVER"),
        devnode=props.get("DEVNAME") or devnode,
        properties=props,
    )


@dataclass(frozen=True)
class MonitorEvent:
    """One line of `udevadm monitor`: `UDEV  [123.4] add /devices/... (usb)`."""

    source: str  # KERNEL or UDEV
    time: float
    action: str  # add, remove, change, bind, unbind, move
    devpath: str
    subsystem: str

    @property
    def sys_name(self) -> str:
        return self.devpath.rsplit("/", 1)[-1]


def parse_monitor(text: str) -> list[MonitorEvent]:
    """The event lines of `udevadm monitor` output (headers and properties skipped)."""
    events = []
    for line in text.replace("\r", "").splitlines():
        m = _MONITOR.match(line.strip())
        if m:
            events.append(
                MonitorEvent(
                    source=m["source"],
                    time=float(m["time"]),
                    action=m["action"],
                    devpath=m["devpath"],
                    subsystem=m["subsystem"],
                )
            )
    return events
