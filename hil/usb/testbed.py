"""A umockdev testbed of recorded USB devices, for the harness's tests and benchmarks.

Runs only inside `umockdev-wrapper` (or `umockdev-run`), with the GObject
bindings of umockdev (`gir1.2-umockdev-1.0`, seen through the system site
packages). Devices are plugged and unplugged the way the kernel does it:
parents first on add, children first on remove, one uevent per device, so a
pyudev `Monitor` sees a modeswitch as remove and add events.

umockdev hands events to listeners over AF_UNIX datagram sockets, whose queue
holds `net.unix.max_dgram_qlen` (10) datagrams; `plug()` paces its events so a
listener that keeps reading never overflows (umockdev aborts on a full queue).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path

from hil.probes.udevadm import UdevRecord

_RECORD_SPLIT = re.compile(r"\n\s*\n")


def _umockdev():
    import gi

    gi.require_version("UMockdev", "1.0")
    from gi.repository import UMockdev

    return UMockdev


def records_of(text: str) -> list[str]:
    """The device records of a .umockdev recording, in file order."""
    return [r.strip() + "\n" for r in _RECORD_SPLIT.split(text) if r.strip().startswith("P:")]


def devpath_of(record: str) -> str:
    return record.split("\n", 1)[0][3:].strip()


class Testbed:
    """A umockdev testbed: /sys as the recordings describe it."""

    def __init__(self) -> None:
        self.tb = _umockdev().Testbed.new()
        self.present: list[str] = []  # sysfs paths, in the order they were added

    def load(self, *recordings: Path | str) -> None:
        """Add recordings without pacing (no listener should be open yet)."""
        for rec in recordings:
            for record in records_of(Path(rec).read_text()):
                self._add(record)

    def _add(self, record: str) -> None:
        if not self.tb.add_from_string(record):
            raise RuntimeError(f"umockdev refused record {devpath_of(record)}")
        self.present.append("/sys" + devpath_of(record))

    def plug(self, recording: Path | str, pace: float = 0.002) -> list[str]:
        """Add a device's records one by one (each emits its `add` uevent)."""
        added = []
        for record in records_of(Path(recording).read_text()):
            self._add(record)
            added.append("/sys" + devpath_of(record))
            time.sleep(pace)
        return added

    def unplug(self, sys_path: str, pace: float = 0.002) -> list[str]:
        """Remove a device and everything below it, children first, with `remove` uevents."""
        gone = sorted(
            (p for p in self.present if p == sys_path or p.startswith(sys_path + "/")),
            key=len,
            reverse=True,
        )
        for path in gone:
            self.tb.uevent(path, "remove")
            # one by one: umockdev drops a device's /sys/bus and /sys/class links itself
            self.tb.remove_device(path)
            time.sleep(pace)
        self.present = [p for p in self.present if p not in gone]
        return gone

    def uevent(self, sys_path: str, action: str) -> None:
        self.tb.uevent(sys_path, action)


def recording_of(records: Iterable[UdevRecord], udev_properties: bool = False) -> str:
    """Records as a umockdev recording: the uevent's properties, the `dev` attribute, the
    driver link. udev's `ID_*` additions are left out (a testbed has no udev database)
    unless `udev_properties`: then they ride in the uevent, as in fixtures/udev, so
    pyudev reads as many properties per device as on a host where udev runs."""
    out = []
    for r in records:
        lines = [f"P: {r.devpath}"]
        if r.devnode:
            lines.append(f"N: {r.devnode[len('/dev/') :]}")
        lines += [
            f"E: {k}={v}"
            for k, v in r.properties.items()
            if k != "DEVPATH" and (udev_properties or not k.startswith(("ID_", "DEVLINKS")))
        ]
        lines += [f"A: {k}={v}" for k, v in r.attributes.items()]
        if r.properties.get("MAJOR"):
            lines.append(f"A: dev={r.properties['MAJOR']}:{r.properties['MINOR']}")
        if r.driver:
            up = "../" * (r.devpath.count("/") - 1)
            lines.append(f"L: driver={up}bus/usb/drivers/{r.driver}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)
