"""`lsusb`, `udevadm` and `usb_modeswitch` of the simulated board, answered from its USB bus.

Formats follow the real tools on Debian 12 / balenaOS: usbutils' `lsusb`
(names from the udev hwdb, as lsusb takes them), systemd 252's `udevadm info`
/ `--export-db` / `monitor` / `settle`, usb_modeswitch 2.6.1's messages.
"""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

from hil.probes.udevadm import UdevRecord
from hil.sim.commands import command
from hil.sim.modeswitch_report import Run, verbose_report
from hil.sim.shell.interp import CommandError, Proc
from hil.sim.usb import UsbBus, UsbEvent, format_record, usb_bus
from hil.sim.usb_modeswitch import METHOD_FLAGS, Options, bus_ids, device_facts, parse_options
from hil.usb.model import hex4

HWDB = Path("/usr/lib/udev/hwdb.d/20-usb-vendor-model.hwdb")


# -- lsusb --------------------------------------------------------------------------------


@functools.cache
def _hwdb_names() -> dict[str, str]:
    """`usb:vXXXX*` → vendor, `usb:vXXXXpYYYY*` → model, from systemd's hwdb source."""
    names: dict[str, str] = {}
    try:
        text = HWDB.read_text(errors="replace")
    except OSError:
        return names
    key = None
    for line in text.splitlines():
        if line.startswith("usb:v"):
            key = line[5:].rstrip("*").lower()
        elif key and line.startswith(" ID_"):
            names[key] = line.split("=", 1)[1]
    return names


def usb_name(vid: str, pid: str) -> str:
    names = _hwdb_names()
    vendor = names.get(vid, "")
    model = names.get(f"{vid}p{pid}", "")
    return " ".join(x for x in (vendor, model) if x)


@command("lsusb")
def lsusb(p: Proc) -> int:
    bus = usb_bus(p.world)
    devices = [r for r in bus.records() if r.devtype == "usb_device"]
    args = p.args[1:]
    if "-t" in args:
        p.out(_lsusb_tree(bus, devices))
        return 0
    if "-v" in args:
        raise CommandError("option -v is not modelled by the simulator (use udevadm info)", 1)
    want = None
    if "-d" in args:
        i = args.index("-d")
        want = args[i + 1].lower() if i + 1 < len(args) else ""
    rows = []
    for r in devices:
        vid, pid = r.properties["ID_VENDOR_ID"], r.properties["ID_MODEL_ID"]
        if want and not _id_matches(want, vid, pid):
            continue
        busnum, devnum = int(r.properties["BUSNUM"]), int(r.properties["DEVNUM"])
        rows.append((busnum, devnum, f"ID {vid}:{pid} {usb_name(vid, pid)}".rstrip()))
    for busnum, devnum, text in sorted(rows, reverse=True):
        p.out(f"Bus {busnum:03d} Device {devnum:03d}: {text}\n")
    return 0 if rows else 1


def _id_matches(want: str, vid: str, pid: str) -> bool:
    v, _, d = want.partition(":")
    return (not v or hex4(v) == vid) and (not d or hex4(d) == pid)


_CLASS = {
    0x02: "Communications",
    0x08: "Mass Storage",
    0x09: "Hub",
    0x0A: "CDC Data",
    0xFF: "Vendor Specific Class",
}


def _lsusb_tree(bus: UsbBus, devices: list[UdevRecord]) -> str:
    interfaces = [r for r in bus.records() if r.devtype == "usb_interface"]
    lines = ["/:  Bus 01.Port 1: Dev 1, Class=root_hub, Driver=xhci_hcd/1p, 480M"]
    for dev in sorted(devices, key=lambda r: r.devpath):
        if dev.sys_name == "usb1":
            continue
        depth = dev.sys_name.count(".") + 1
        port = dev.sys_name.rsplit(".", 1)[-1].split("-")[-1]
        devnum = int(dev.properties["DEVNUM"])
        for itf in (i for i in interfaces if i.devpath.rsplit("/", 1)[0] == dev.devpath):
            cls = int(itf.properties["INTERFACE"].split("/")[0])
            number = int(itf.sys_name.rsplit(".", 1)[1])
            driver = itf.driver or ""
            if driver == "hub":
                driver = "hub/4p"
            lines.append(
                f"{'    ' * depth}|__ Port {port}: Dev {devnum}, If {number}, "
                f"Class={_CLASS.get(cls, f'[{cls:02x}]')}, Driver={driver}, 480M"
            )
    return "\n".join(lines) + "\n"


# -- udevadm ------------------------------------------------------------------------------


@command("udevadm")
def udevadm(p: Proc) -> int:
    if len(p.args) < 2:
        raise CommandError("missing command, see 'udevadm --help'", 2)
    sub, args = p.args[1], p.args[2:]
    if sub == "info":
        return _info(p, args)
    if sub == "monitor":
        return _monitor(p, args)
    if sub == "settle":
        return _settle(p, args)
    if sub in ("trigger", "control"):
        usb_bus(p.world).advance()
        return 0
    raise CommandError(f"unknown command '{sub}'", 2)


def _info(p: Proc, args: list[str]) -> int:
    bus = usb_bus(p.world)
    records = bus.records()
    export = False
    query = None
    targets: list[str] = []
    it = iter(args)
    for a in it:
        if a in ("-e", "--export-db"):
            export = True
        elif a in ("-q", "--query"):
            query = next(it, "")
        elif a.startswith("--query="):
            query = a.split("=", 1)[1]
        elif a in ("-p", "--path", "-n", "--name"):
            value = next(it, "")
            targets.append(
                value
                if a in ("-p", "--path") and value.startswith("/sys")
                else ("/sys" + value if a in ("-p", "--path") else value)
            )
        elif a in ("-a", "--attribute-walk"):
            raise CommandError("--attribute-walk is not modelled by the simulator", 1)
        elif a.startswith("-"):
            continue
        else:
            targets.append(a)
    if export:
        p.out("".join(format_record(r) for r in records))
        return 0
    if not targets:
        p.err("udevadm: A device name or path is required\n")
        return 1
    for target in targets:
        record = _resolve(records, target)
        if record is None:
            p.err(f'Unknown device "{target}": No such device\n')
            return 1
        if query == "property":
            p.out("".join(f"{k}={v}\n" for k, v in record.properties.items()))
        elif query == "name":
            p.out((record.devnode or "")[len("/dev/") :] + "\n")
        elif query == "path":
            p.out(record.devpath + "\n")
        else:
            p.out(format_record(record))
    return 0


def _resolve(records: list[UdevRecord], target: str) -> UdevRecord | None:
    """A /sys path (devices, bus or class link), a /dev node or a bare node name."""
    if target.startswith("/sys/devices/"):
        return next((r for r in records if "/sys" + r.devpath == target.rstrip("/")), None)
    m = re.match(r"^/sys/(?:bus/usb/devices|class/(tty|net|usbmisc))/([^/]+)/?$", target)
    if m:
        subsystem = m.group(1) or "usb"
        return next(
            (r for r in records if r.subsystem == subsystem and r.sys_name == m.group(2)), None
        )
    node = target if target.startswith("/dev/") else "/dev/" + target
    return next((r for r in records if r.devnode == node), None)


def _monitor(p: Proc, args: list[str]) -> int:
    kernel = udev = False
    show_props = False
    filters: list[tuple[str, str | None]] = []
    it = iter(args)
    for a in it:
        if a in ("-k", "--kernel"):
            kernel = True
        elif a in ("-u", "--udev"):
            udev = True
        elif a in ("-p", "--property", "-e", "--environment"):
            show_props = True
        elif a in ("-s", "--subsystem-match") or a.startswith("--subsystem-match="):
            value = a.split("=", 1)[1] if "=" in a else next(it, "")
            sub, _, devtype = value.partition("/")
            filters.append((sub, devtype or None))
    if not (kernel or udev):
        kernel = udev = True
    p.out("monitor will print the received events for:\n")
    if udev:
        p.out("UDEV - the event which udev sends out after rule processing\n")
    if kernel:
        p.out("KERNEL - the kernel uevent\n")
    p.out("\n")
    bus = usb_bus(p.world)
    piped = p._out != p.shell.term_out  # where our output goes decides when we stop
    seen = bus.events[-1].seq if bus.events else 0
    while True:
        p.check_interrupt()
        events = bus.wait_event(seen, 0.2, p.shell.interrupt)
        p.check_interrupt()
        for e in events:
            seen = e.seq
            if filters and not any(
                e.subsystem == s and (d is None or e.devtype == d) for s, d in filters
            ):
                continue
            _print_event(p, e, kernel, udev, show_props)
            if piped:
                # The sim runs a pipeline's stages one after another; the real monitor
                # stops when its reader (grep -m 1, head -n 1) has what it wanted and
                # exits: a piped monitor ends after its first event.
                return 0


def _print_event(p: Proc, e: UsbEvent, kernel: bool, udev: bool, props: bool) -> None:
    for source, delay in (("KERNEL", 0.0), ("UDEV", 0.004)):
        if (source == "KERNEL" and not kernel) or (source == "UDEV" and not udev):
            continue
        # the kernel's monotonic clock: world seconds since boot
        p.out(monitor_line(source, e.time + delay, e.action, e.devpath, e.subsystem) + "\n")
        if props:
            p.out(f"ACTION={e.action}\nDEVPATH={e.devpath}\nSUBSYSTEM={e.subsystem}\n")
            for k, v in e.properties:
                if k not in ("DEVPATH", "SUBSYSTEM"):
                    p.out(f"{k}={v}\n")
            p.out(f"SEQNUM={e.seq}\n\n")


def monitor_line(source: str, when: float, action: str, devpath: str, subsystem: str) -> str:
    """One event line of systemd's `udevadm monitor` (`%-6s[%lu.%06lu] %-8s %s (%s)`)."""
    return f"{source:<6}[{when:.6f}] {action:<8} {devpath} ({subsystem})"


def _settle(p: Proc, args: list[str]) -> int:
    """Wait until nothing is due within the settle window (udev's queue is empty)."""
    bus = usb_bus(p.world)
    timeout = 120.0
    for a in args:
        if a.startswith("--timeout=") or a.startswith("-t"):
            timeout = float(a.split("=", 1)[1] if "=" in a else a[2:] or 120)
    deadline = time.monotonic() + timeout
    while True:
        bus.advance()
        due = bus.next_due()
        # an event due within 0.1 world seconds is one udev is already processing
        if due is None or due - bus.now() > 0.1:
            return 0
        if time.monotonic() >= deadline:
            return 1
        p.sleep(max(0.001, bus.real_seconds(due - bus.now())))


# -- usb_modeswitch -----------------------------------------------------------------------

_HEADER = (
    "\n * usb_modeswitch: handle USB devices with multiple modes\n"
    " * Version 2.6.1 (C) Josua Dietze 2017\n * Based on libusb1/libusbx\n\n"
)


@command("usb_modeswitch")
def usb_modeswitch(p: Proc) -> int:
    """usb_modeswitch 2.6.1 by hand: its progress (with -W its settings first), the
    procedure of the method it is given, and the device's answer from the bus."""
    args = p.args[1:]
    if p.args[0].startswith("/lib/udev/") and len(args) == 1:
        return _dispatch(p, args[0])
    if not args or "-h" in args or "--help" in args:
        p.out(_HEADER)
        if not args:
            p.out("No default vendor/product ID given. Abort\n\n")
            return 1
        return 0
    if any(a.startswith("/") for a in args if not a.startswith("-")) and not any(
        a in ("-c", "--config-file") for a in args
    ):
        p.out(_HEADER)
        p.out("No default vendor/product ID given. Abort\n\n")
        return 1
    o = parse_options(args)
    if o.config:
        conf = _parse_conf(p.world.fs.read_text(p.path(o.config)))
        o.vendor = o.vendor or _hex(conf.get("DefaultVendor"))
        o.product = o.product or _hex(conf.get("DefaultProduct"))
        o.target_vendor = o.target_vendor or _hex(conf.get("TargetVendor"))
        o.target_product = o.target_product or _hex(conf.get("TargetProduct"))
        o.message = o.message or conf.get("MessageContent")
        for key in METHOD_FLAGS.values():
            if conf.get(key, "0") not in ("0", ""):
                o.method = key
        if o.method is None and o.message:
            o.method = "MessageContent"
    if not o.vendor or not o.product:
        p.out(_HEADER)
        p.out("No default vendor/product ID given. Abort\n\n")
        return 1
    return _switch_explicit(p, o)


def _hex(value: str | None) -> str | None:
    try:
        return hex4(value) if value else None
    except ValueError:
        return None


def _parse_conf(text: str) -> dict[str, str]:
    conf = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Za-z0-9]+)\s*=\s*\"?([^\"#]*)\"?", line)
        if m and not line.lstrip().startswith("#"):
            conf[m.group(1)] = m.group(2).strip()
    return conf


def _switch_explicit(p: Proc, o: Options) -> int:
    bus = usb_bus(p.world)
    bus.advance()
    modem = next(
        (m for m in bus.modems if m.mode == "storage" and m.vid == o.vendor and m.pid == o.product),
        None,
    )
    device = device_facts(bus, modem) if modem is not None else None
    others = bus_ids(bus, modem) if modem is not None else ()
    switched = False
    if modem is not None and o.method is not None:
        switched = bus.switch(modem).switched
    run = Run(
        o.vendor or "",
        o.product or "",
        o.method or "",
        o.target_vendor,
        (o.target_product,) if o.target_product else (),
        o.message,
        device=device,
        switched=switched,
        bus_ids=others,
    )
    p.out(verbose_report(run, verbose=o.verbose))
    return 0


def _dispatch(p: Proc, path: str) -> int:
    """/lib/udev/usb_modeswitch '/%k' as udev runs it: the dispatcher, silent, backgrounded."""
    bus = usb_bus(p.world)
    name = path.strip("/").split("/")[-1].split(":")[0]
    modem = next((m for m in bus.modems if m.sys_name == name), None)
    if modem is not None and modem.mode == "storage":
        bus.switch(modem)
    return 0
