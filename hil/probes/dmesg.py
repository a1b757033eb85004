"""The USB core's lines in the kernel log (`dmesg`): what enumerated at which port.

The kernel names a USB device by its port chain (`usb 1-1.3: ...`) and prints,
for every enumeration, `new high-speed USB device number N using HCD` and
`New USB device found, idVendor=VVVV, idProduct=PPPP[, bcdDevice=...]`, and
`USB disconnect, device number N` when it leaves. That history says whether a
modem came up in storage mode and was switched (another id at the same port)
— what `udevadm` cannot tell once the switch is over. Timestamps may carry the
CPU (`[    2.325991@0]`, some vendor kernels).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_STAMP = r"^\[\s*(?P<t>\d+\.\d+)(?:@\d+)?\]\s+"
_FOUND = re.compile(
    _STAMP + r"usb (?P<port>\S+): New USB device found, "
    r"idVendor=(?P<vid>[0-9a-fA-F]{4}), idProduct=(?P<pid>[0-9a-fA-F]{4})"
)
_NEW = re.compile(_STAMP + r"usb (?P<port>\S+): new .*USB device number (?P<n>\d+) using")
_GONE = re.compile(_STAMP + r"usb (?P<port>\S+): USB disconnect, device number (?P<n>\d+)")


@dataclass(frozen=True)
class UsbKernelEvent:
    """One enumeration (`found`) or departure (`disconnect`) at a port."""

    time: float
    port: str  # the USB device's name: 1-1.3
    action: Literal["found", "disconnect"]
    vid: str | None = None
    pid: str | None = None
    devnum: int | None = None

    @property
    def vid_pid(self) -> str | None:
        return f"{self.vid}:{self.pid}" if self.vid and self.pid else None


def parse_usb_events(text: str) -> list[UsbKernelEvent]:
    """The enumerations and disconnects in a kernel log, in order; other lines ignored."""
    events: list[UsbKernelEvent] = []
    numbers: dict[str, int] = {}  # port → device number of its enumeration in progress
    for line in text.splitlines():
        if m := _NEW.match(line):
            numbers[m["port"]] = int(m["n"])
        elif m := _FOUND.match(line):
            events.append(
                UsbKernelEvent(
                    float(m["t"]),
                    m["port"],
                    "found",
                    m["vid"].lower(),
                    m["pid"].lower(),
                    numbers.pop(m["port"], None),
                )
            )
        elif m := _GONE.match(line):
            events.append(
                UsbKernelEvent(float(m["t"]), m["port"], "disconnect", devnum=int(m["n"]))
            )
    return events


def ids_at(events: list[UsbKernelEvent], port: str) -> list[str]:
    """The ids the device at `port` enumerated with, oldest first."""
    return [e.vid_pid for e in events if e.port == port and e.action == "found" and e.vid_pid]
