"""The lab host's USB devices through pyudev: discovery, and waiting on udev events.

Discovery reads pyudev's `Context` into the shared model (`UdevTree`);
`HostUsb.wait_for()` blocks on a pyudev `Monitor` (the netlink socket, via
`poll`) and re-reads the port only when an event for it arrives — no polling
loop, so it returns within milliseconds of the event that completes the wait.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable

import pyudev

from hil.probes.udevadm import UdevRecord
from hil.usb.match import Match, MatchReport, match_usb
from hil.usb.model import Mode, UdevTree, UsbDevice
from hil.usb.wait import WaitTimeout, describe_wait, satisfied

#: the subsystems the model is built from: USB devices/interfaces and their ports
SUBSYSTEMS = ("usb", "tty", "net", "usbmisc")
#: sysfs attributes of a usb_device worth a read: the uevent properties carry ids,
#: bus/device numbers and interface classes already (udev exports carry only those)
ATTRIBUTES = ("bNumInterfaces", "manufacturer", "product", "serial")
#: tty devices that can belong to a USB device (a host has a hundred virtual ttys)
USB_TTYS = ("ttyUSB*", "ttyACM*")


def record_of(device: pyudev.Device) -> UdevRecord:
    """A pyudev device as a `UdevRecord` (sysfs attributes read for USB devices only)."""
    attrs: dict[str, str] = {}
    if device.device_type == "usb_device":
        for name in ATTRIBUTES:
            with contextlib.suppress(KeyError, UnicodeDecodeError, OSError):
                attrs[name] = device.attributes.asstring(name).strip()
    return UdevRecord(
        devpath=device.device_path,
        subsystem=device.subsystem,
        devtype=device.device_type,
        driver=device.driver,
        devnode=device.device_node,
        properties=dict(device.properties),
        attributes=attrs,
    )


class HostUsb:
    """USB devices of the machine this runs on (the lab host)."""

    def __init__(self, context: pyudev.Context | None = None) -> None:
        self.context = context or pyudev.Context()

    def records(self) -> list[UdevRecord]:
        """Records of the USB subsystems and every ancestor (for `@` matches)."""
        ttys = self.context.list_devices(subsystem="tty")
        for pattern in USB_TTYS:
            ttys = ttys.match_sys_name(pattern)  # sys names OR-ed, AND-ed with the subsystem
        enumerators = [
            self.context.list_devices(subsystem="usb"),
            ttys,
            self.context.list_devices(subsystem="net"),
            self.context.list_devices(subsystem="usbmisc"),
        ]
        seen: dict[str, UdevRecord] = {}
        tops: list[pyudev.Device] = []
        for device in (d for e in enumerators for d in e):
            seen[device.device_path] = record_of(device)
            if device.subsystem == "usb" and device.sys_name.startswith("usb"):
                tops.append(device)  # a root hub: its controllers are not enumerated
        for device in tops:
            node = device.parent
            while node is not None and node.device_path not in seen:
                seen[node.device_path] = record_of(node)
                node = node.parent
        return list(seen.values())

    def tree(self) -> UdevTree:
        return UdevTree(self.records())

    def devices(self) -> list[UsbDevice]:
        return self.tree().usb_devices()

    def find(self, match: Match | dict[str, str] | str) -> UsbDevice:
        """The one USB device the match selects (`NoMatch`/`AmbiguousMatch` explain why not)."""
        return match_usb(self.tree(), Match.of(match)).one()

    def report(self, match: Match | dict[str, str] | str) -> MatchReport:
        return match_usb(self.tree(), Match.of(match))

    def wait_for(
        self,
        match: Match | dict[str, str] | str,
        mode: Mode | None = None,
        timeout: float = 30.0,
        gone: bool = False,
    ) -> UsbDevice | None:
        """Block until the matched device is present (in `mode`, if given), or gone.

        The monitor starts before the first look, so an event between the look
        and the wait cannot be lost. Raises `WaitTimeout` naming what was seen.
        """
        match = Match.of(match)
        monitor = pyudev.Monitor.from_netlink(self.context)
        monitor.filter_by("usb")
        for subsystem in SUBSYSTEMS[1:]:
            monitor.filter_by(subsystem)
        monitor.start()
        deadline = time.monotonic() + timeout
        history: list[str] = []
        try:
            report = match_usb(self.tree(), match)
            while True:
                done, result = satisfied(report, mode, gone)
                if done:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(describe_wait(match, mode, gone, timeout, report, history))
                event = monitor.poll(timeout=remaining)
                if event is None:
                    continue
                history.append(f"{event.action} {event.sys_name}")
                # drain what is queued: a re-enumeration is a burst of events
                history.extend(f"{e.action} {e.sys_name}" for e in _drain(monitor))
                report = match_usb(self.tree(), match)
        finally:
            del monitor  # close the socket now, not when a traceback lets go of this frame


def _drain(monitor: pyudev.Monitor) -> Iterable[pyudev.Device]:
    while True:
        event = monitor.poll(timeout=0)
        if event is None:
            return
        yield event
