"""The lab host's USB devices through pyudev: discovery, and waiting on udev events.

Discovery reads pyudev `Device`s into the shared model (`UdevTree`);
`HostUsb.wait_for()` blocks on a pyudev `Monitor` (the netlink socket, via
`poll`) and, when events arrive, reads again only the devices they name and
checks the match again only on what changed (`UdevTree.add`/`discard`,
`LiveMatch`) — no polling loop, and the work per event does not grow with the
bus, so it returns within milliseconds of the event that completes the wait.

Why discovery lists sysfs itself instead of `Context.list_devices()`: libudev's
enumerator builds every device of the scanned directories to filter them, and
pyudev's iterator then builds each one again from its path — two devices per
record, half of the time of `hil devices` on a large bus (bench/usb.py). The
directories libudev would scan are listed here (`/sys/bus/usb/devices`, the
tty/net/usbmisc classes) and only what sits below a USB device is kept.

Each USB device is built once with `Devices.from_sys_path`, for what udev
knows of it (`ID_PATH`, `ID_SERIAL`, `ID_MM_*`: its database); of its
properties only the few the model needs are looked up. Interfaces and ports
(ttys, cdc-wdm, network interfaces) are read from their `uevent` file: what
the model and `hil devices` need of them — interface class, driver, device
node, interface name — is the kernel's, which libudev reads from that same
file. Building each with libudev costs a walk of its whole sysfs path
(`chase()`: one open per path component, 15-20 deep behind hubs): most of the
time of `hil devices` on a bus of 200 modems (bench/usb.py). Their pyudev device is built
only when someone asks for a property the uevent does not hold (udev's own, as
a `@ID_PATH` match on ports does), for all of them, or for a sysfs attribute.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Iterable, Iterator, Mapping

import pyudev
from pyudev._util import udev_list_iterate  # pyudev's reader of libudev's lists

from hil.probes.udevadm import UdevRecord
from hil.usb.match import LiveMatch, Match, MatchReport, match_usb
from hil.usb.model import Mode, UdevTree, UsbDevice
from hil.usb.wait import WaitTimeout, describe_wait, satisfied

#: the subsystems the model is built from: USB devices/interfaces and their ports
SUBSYSTEMS = ("usb", "tty", "net", "usbmisc")
#: where sysfs lists the devices of each subsystem (relative to the sysfs mount)
SYSFS_LISTS = {
    "usb": "bus/usb/devices",
    "tty": "class/tty",
    "net": "class/net",
    "usbmisc": "class/usbmisc",
}


def record_of(device: pyudev.Device) -> UdevRecord:
    """A pyudev device as a `UdevRecord`.

    udev sets DEVPATH, SUBSYSTEM, DEVTYPE, DRIVER and DEVNAME among the
    properties; those few are looked up, the rest only when someone lists them
    (`DeviceProperties`). Sysfs attributes are read when asked for
    (`DeviceAttributes`: any `ATTR{name}` of a match, on any record)."""
    props = DeviceProperties(device)
    subsystem = props.get("SUBSYSTEM") or device.subsystem
    devtype = props.get("DEVTYPE")
    driver = props.get("DRIVER")
    if driver is None and subsystem == "usb":
        driver = device.driver  # the driver link, should a source leave DRIVER out
    return UdevRecord(
        devpath=props.get("DEVPATH") or device.device_path,
        subsystem=subsystem,
        devtype=devtype,
        driver=driver,
        devnode=props.get("DEVNAME"),
        properties=props,
        attributes=DeviceAttributes(device),
    )


class DeviceProperties(Mapping[str, str]):
    """A pyudev device's udev properties: looked up one by one, all read at the first
    listing (`iter`, `len`, `dict(...)`).

    A tty on a host where udev runs carries 20-30 properties, and the model
    needs two of them; reading them all costs three calls into libudev per
    property, more than creating the device (bench/usb.py)."""

    __slots__ = ("_all", "_device", "_looked_up")

    def __init__(self, device: pyudev.Device) -> None:
        self._device: pyudev.Device | None = device
        self._all: dict[str, str] | None = None
        self._looked_up: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> str:
        if self._all is not None:
            return self._all[key]
        if key not in self._looked_up:
            self._looked_up[key] = self._device.properties.get(key)  # type: ignore[union-attr]
        value = self._looked_up[key]
        if value is None:
            raise KeyError(key)
        return value

    def _load(self) -> dict[str, str]:
        if self._all is None:
            self._all = properties_of(self._device)  # type: ignore[arg-type]
            self._device = None  # the libudev device is no longer needed
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return repr(self._load())

    def __reduce__(self):  # pickles (and deep-copies) as the plain dict it stands for
        return (dict, (self._load(),))


class DeviceAttributes(Mapping[str, str]):
    """A pyudev device's sysfs attributes, each read (stripped) at its first use.

    Read later than the properties: an attribute of a device unplugged since
    reads as missing. Listing them names what libudev finds in the device's
    directory; values that are not text (binary descriptors) are left out."""

    __slots__ = ("_device", "_read")

    def __init__(self, device: pyudev.Device | _LazyDevice) -> None:
        self._device = device
        self._read: dict[str, str | None] = {}

    def _pyudev(self) -> pyudev.Device | None:
        device = self._device
        return device() if isinstance(device, _LazyDevice) else device

    def __getitem__(self, name: str) -> str:
        if name not in self._read:
            device = self._pyudev()
            try:
                self._read[name] = (
                    None if device is None else device.attributes.asstring(name).strip()
                )
            except (KeyError, UnicodeDecodeError, OSError):
                self._read[name] = None
        value = self._read[name]
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        device = self._pyudev()
        if device is None:
            return iter(())
        return (n for n in sorted(device.attributes.available_attributes) if n in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self):  # pickles (and deep-copies) as the plain dict it stands for
        return (dict, (dict(self),))


class SysfsProperties(Mapping[str, str]):
    """The udev properties of a device read from its `uevent` file (the kernel's: DEVTYPE,
    DRIVER, DEVNAME as a `/dev/` path, INTERFACE, PRODUCT…, plus SUBSYSTEM and DEVPATH
    from where it was listed); any other key, and the full listing, come from its
    pyudev device, built then (`DeviceProperties`). Once the device is gone, only the
    uevent's keys remain."""

    __slots__ = ("_device", "_udev", "kernel")

    def __init__(self, kernel: dict[str, str], device: _LazyDevice) -> None:
        self.kernel = kernel
        self._device = device
        self._udev: Mapping[str, str] | None = None

    def _all(self) -> Mapping[str, str]:
        if self._udev is None:
            device = self._device()
            self._udev = self.kernel if device is None else DeviceProperties(device)
        return self._udev

    def __getitem__(self, key: str) -> str:
        if key in self.kernel:
            return self.kernel[key]
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self):  # pickles (and deep-copies) as the plain dict it stands for
        return (dict, (dict(self),))


class _LazyDevice:
    """A pyudev device built at the first call (None if it is gone by then)."""

    __slots__ = ("_built", "_context", "_device", "_sys_path")

    def __init__(self, context: pyudev.Context, sys_path: str) -> None:
        self._context = context
        self._sys_path = sys_path
        self._device: pyudev.Device | None = None
        self._built = False

    def __call__(self) -> pyudev.Device | None:
        if not self._built:
            self._built = True
            try:
                self._device = pyudev.Devices.from_sys_path(self._context, self._sys_path)
            except pyudev.DeviceNotFoundAtPathError:
                self._device = None
        return self._device


def sysfs_record(context: pyudev.Context, sys_path: str, subsystem: str) -> UdevRecord | None:
    """A USB interface or a port (tty, cdc-wdm, net) as a `UdevRecord` read from its
    `uevent` file, as libudev reads it (DEVNAME becomes a `/dev/` path, DRIVER the
    driver), its pyudev device built only when asked for more (`SysfsProperties`,
    `DeviceAttributes`). None when it is gone."""
    kernel = _read_uevent(sys_path)
    if kernel is None:
        return None
    devpath = sys_path[len(context.sys_path) :]
    kernel["SUBSYSTEM"] = subsystem
    kernel["DEVPATH"] = devpath
    devname = kernel.get("DEVNAME")
    if devname is not None and not devname.startswith("/dev/"):
        devname = kernel["DEVNAME"] = "/dev/" + devname
    driver = kernel.get("DRIVER")
    if driver is None and subsystem == "usb":
        driver = _driver_link(sys_path)
    device = _LazyDevice(context, sys_path)
    return UdevRecord(
        devpath=devpath,
        subsystem=subsystem,
        devtype=kernel.get("DEVTYPE"),
        driver=driver,
        devnode=devname,
        properties=SysfsProperties(kernel, device),
        attributes=DeviceAttributes(device),
    )


def _read_uevent(sys_path: str) -> dict[str, str] | None:
    try:  # os-level: a sysfs attribute is one read of at most a page; no buffering, no isatty
        fd = os.open(sys_path + "/uevent", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # gone (or never a device)
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 8192):
            chunks.append(chunk)
        text = b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
    kernel = {}
    for line in os.fsdecode(text).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            kernel[key] = value
    return kernel


def _driver_link(sys_path: str) -> str | None:
    try:
        return posixpath.basename(os.readlink(posixpath.join(sys_path, "driver")))
    except OSError:
        return None


def properties_of(device: pyudev.Device) -> dict[str, str]:
    """All udev properties of a device, read in one pass over libudev's list.

    pyudev's `Properties` mapping looks every key up again after listing it (two
    calls into libudev and two conversions per property): as much time as
    building the device. The list it walks holds the values already; it is read
    here as (name, value) pairs through pyudev's own helper — `dict(properties)`
    is the fallback should pyudev's internals change (tests compare the two)."""
    try:
        entry = device._libudev.udev_device_get_properties_list_entry(device)
        pairs = udev_list_iterate(device._libudev, entry)
        return {os.fsdecode(k): os.fsdecode(v or b"") for k, v in pairs}
    except AttributeError:
        return dict(device.properties)


def usb_sys_paths(sys_root: str = "/sys") -> list[str]:
    """The sysfs paths of USB devices and interfaces, then of the ttys, network
    interfaces and cdc-wdm ports below them (each once, in listing order)."""
    return [path for path, _ in usb_listing(sys_root)]


def usb_listing(sys_root: str = "/sys") -> list[tuple[str, str]]:
    """`usb_sys_paths` with the subsystem each path was listed under."""
    usb = list(_listed(posixpath.join(sys_root, SYSFS_LISTS["usb"])))
    below = set(usb)
    listing = [(path, "usb") for path in usb]
    for subsystem in SUBSYSTEMS[1:]:
        for path in _listed(posixpath.join(sys_root, SYSFS_LISTS[subsystem])):
            if _under(path, below):
                listing.append((path, subsystem))
    return listing


def _listed(directory: str) -> Iterator[str]:
    """The device paths a sysfs list directory links to (its entries are symlinks)."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return  # no USB bus (or no such class) on this machine
    for entry in entries:
        try:
            target = os.readlink(entry.path)
        except OSError:  # not a link (a sysfs with real directories): the path itself
            yield posixpath.normpath(entry.path)
            continue
        yield posixpath.normpath(posixpath.join(directory, target))


def _under(path: str, roots: set[str]) -> bool:
    up = posixpath.dirname(path)
    while len(up) > 1:
        if up in roots:
            return True
        up = posixpath.dirname(up)
    return False


class HostUsb:
    """USB devices of the machine this runs on (the lab host)."""

    def __init__(self, context: pyudev.Context | None = None) -> None:
        self.context = context or pyudev.Context()

    def records(self) -> list[UdevRecord]:
        """Records of the USB subsystems and every ancestor of a root hub (for `@` matches)."""
        seen: dict[str, UdevRecord] = {}
        tops: list[str] = []
        for path, subsystem in usb_listing(self.context.sys_path):
            record = self._read(path, subsystem)
            if record is None:
                continue  # unplugged while listing
            seen[record.devpath] = record
            if record.devtype == "usb_device" and record.sys_name.startswith("usb"):
                tops.append(path)  # a root hub: its controllers are not listed
        for path in tops:
            try:
                node = pyudev.Devices.from_sys_path(self.context, path).parent
            except pyudev.DeviceNotFoundAtPathError:
                continue
            while node is not None and node.device_path not in seen:
                seen[node.device_path] = record_of(node)
                node = node.parent
        return list(seen.values())

    def _read(self, sys_path: str, subsystem: str) -> UdevRecord | None:
        """One device's record: a USB device through pyudev (what udev knows of it), an
        interface or a port from its uevent (`sysfs_record`). None when it is gone."""
        if subsystem != "usb" or ":" in posixpath.basename(sys_path):  # interfaces: 1-1.3:1.0
            record = sysfs_record(self.context, sys_path, subsystem)
            if record is None or record.devtype != "usb_device":
                return record
        try:
            return record_of(pyudev.Devices.from_sys_path(self.context, sys_path))
        except pyudev.DeviceNotFoundAtPathError:
            return None

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
        and the wait cannot be lost. After the first look only the devices the
        events name are read again (`_follow`): on a bus of hundreds of devices
        an event costs a few reads, not a listing. Raises `WaitTimeout` naming
        what was seen.
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
            tree = UdevTree(self.records())
            live = LiveMatch(tree, match)
            while True:
                done, result = satisfied(live.report(), mode, gone)
                if done:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    report = match_usb(tree, match)  # with the near misses
                    raise WaitTimeout(describe_wait(match, mode, gone, timeout, report, history))
                event = monitor.poll(timeout=remaining)
                if event is None:
                    continue
                # drain what is queued: a re-enumeration is a burst of events
                events = [event, *_drain(monitor)]
                history.extend(f"{e.action} {e.sys_name}" for e in events)
                live.update(*self._follow(tree, events))
        finally:
            del monitor  # close the socket now, not when a traceback lets go of this frame

    def _follow(self, tree: UdevTree, events: list[pyudev.Device]) -> tuple[set[str], set[str]]:
        """Bring `tree` up to date with udev events, in their order: a removed device
        leaves with everything below it; any other event's device is read again from
        sysfs (so the tree holds what sysfs holds, as a listing would). Returns the
        devpaths added or read again, and those removed."""
        changed: set[str] = set()
        removed: set[str] = set()
        usb: set[str] | None = None  # sysfs paths of the USB records, for ports below them
        for event in events:
            path = event.device_path
            if event.action == "move" and event.properties.get("DEVPATH_OLD"):
                removed |= tree.discard(event.properties["DEVPATH_OLD"])
                usb = None
            if event.action == "remove":
                removed |= tree.discard(path)
                usb = None
                continue
            if event.subsystem == "usb" and event.sys_name.startswith("usb"):
                for record in self.records():  # a new bus
                    tree.add(record)
                    changed.add(record.devpath)
                usb = None
                continue
            record = self._read(event.sys_path, event.subsystem)
            if record is None:
                removed |= tree.discard(path)  # gone again already: its remove event follows
                usb = None
                continue
            if record.subsystem == "usb":
                tree.add(record)
                changed.add(path)
                if usb is not None:
                    usb.add(record.sys_path)
                continue
            if usb is None:
                usb = {r.sys_path for r in tree if r.subsystem == "usb"}
            if _under(record.sys_path, usb):
                tree.add(record)
                changed.add(path)
        return changed, removed


def _drain(monitor: pyudev.Monitor) -> Iterable[pyudev.Device]:
    while True:
        event = monitor.poll(timeout=0)
        if event is None:
            return
        yield event
