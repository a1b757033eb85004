"""udev's usb_modeswitch on the simulated bus: who switches a storage-mode modem, with
which method, and what the board keeps of it.

A device usb-modeswitch-data knows goes to usb_modeswitch_dispatcher, which
takes the config of its id — from /etc/usb_modeswitch.d if there is one there,
else from the database's configPack — runs usb_modeswitch with it and, with
`EnableLogging=1` in /etc/usb_modeswitch.conf (the sim image's setting), logs
the run to `/var/log/usb_modeswitch_<device>`. A device the database does not
know is switched by a lab's own udev rule (config.json's `os.udevRules`):
its RUN command line is what runs — its method, and its output where the rule
sends it. The texts are `hil.sim.modeswitch_report`'s, as usb_modeswitch 2.6.1
prints them.

Fault `modeswitch-wrong-method`: a usb_modeswitch setting left on the board
switches the modem by another method than its entry's (the modem still comes
up): an /etc/usb_modeswitch.d config that the dispatcher prefers to the
database's, or a leftover udev rule that runs usb_modeswitch on the lab rule's
ids first, so that the lab rule's own run finds no device left to switch.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.sim.modeswitch_report import (
    GLOBAL_CONFIG,
    GLOBAL_CONFIG_TEXT,
    OVERRIDE_DIR,
    Device,
    Dispatch,
    Run,
    dispatcher_log,
    log_name,
    override_config,
    verbose_report,
)
from hil.usb.model import hex4
from hil.usb.modeswitch import ModeswitchEntry, UdevRule, parse_rules

if TYPE_CHECKING:
    from hil.sim.usb import SimUsbModem, UsbBus

WRONG_METHOD = "modeswitch-wrong-method"
STUCK = "modem-stuck-in-storage-mode"
LEFTOVER_RULE = "/etc/udev/rules.d/39-usb-modeswitch-leftover.rules"

#: usb_modeswitch's command-line switches of the methods a rule can carry
METHOD_FLAGS = {
    "-J": "HuaweiNewMode",
    "--huawei-new-mode": "HuaweiNewMode",
    "-H": "HuaweiMode",
    "--huawei-mode": "HuaweiMode",
    "-K": "StandardEject",
    "--std-eject": "StandardEject",
    "-S": "SierraMode",
    "--sierra-mode": "SierraMode",
}
_VALUE_OPTIONS = {
    "-v": "vendor",
    "--default-vendor": "vendor",
    "-p": "product",
    "--default-product": "product",
    "-V": "target_vendor",
    "--target-vendor": "target_vendor",
    "-P": "target_product",
    "--target-product": "target_product",
    "-M": "message",
    "--message-content": "message",
    "-c": "config",
    "--config-file": "config",
    "-b": "bus",
    "-g": "devnum",
    "-s": "check",
    "-u": "configuration",
}
_RUN = re.compile(r'RUN\+="([^"]*)"')


@dataclass
class Options:
    """A usb_modeswitch command line."""

    vendor: str | None = None
    product: str | None = None
    target_vendor: str | None = None
    target_product: str | None = None
    message: str | None = None
    config: str | None = None
    method: str | None = None
    verbose: bool = False
    sysmode: bool = False


def parse_options(args: list[str]) -> Options:
    """usb_modeswitch's options (the ones a lab rule or a person types)."""
    o = Options()
    it = iter(args)
    for a in it:
        if a in METHOD_FLAGS:
            o.method = METHOD_FLAGS[a]
        elif a in _VALUE_OPTIONS:
            value = next(it, "")
            if hasattr(o, _VALUE_OPTIONS[a]):
                setattr(o, _VALUE_OPTIONS[a], value)
        elif a.startswith("-") and not a.startswith("--") and len(a) > 2:
            for flag in a[1:]:  # bundled switches: -KW
                o.method = METHOD_FLAGS.get(f"-{flag}", o.method)
                o.verbose |= flag == "W"
                o.sysmode |= flag == "D"
        else:
            o.verbose |= a in ("-W", "--verbose")
            o.sysmode |= a in ("-D", "--sysmode")
    for attr in ("vendor", "product", "target_vendor", "target_product"):
        value = getattr(o, attr)
        if value:
            try:
                setattr(o, attr, hex4(value))
            except ValueError:
                setattr(o, attr, None)
    if o.method is None and o.message:
        o.method = "MessageContent"
    return o


def rule_runs(text: str) -> list[tuple[UdevRule, str]]:
    """Each usb_modeswitch rule of a rules file with its RUN command line."""
    runs = []
    for line in text.splitlines():
        rules = parse_rules(line)
        command = _RUN.search(line)
        if rules and command:
            runs.append((rules[0], command[1]))
    return runs


def command_of(run: str, kernel: str) -> tuple[list[str], str | None]:
    """The usb_modeswitch argv of a RUN command (`/bin/sh -c '...'` unwrapped) and
    the file its output goes to (None: udev drops it), with udev's %k substituted."""
    try:
        words = shlex.split(run.replace("%k", kernel))
    except ValueError:
        return [], None
    if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
        try:
            words = shlex.split(words[2])
        except ValueError:
            return [], None
    log = None
    argv: list[str] = []
    for i, w in enumerate(words):
        if w.startswith(">") and not w.startswith(">&"):
            log = w.lstrip(">") or (words[i + 1] if i + 1 < len(words) else None)
        elif w.startswith("2>") or (i > 0 and words[i - 1] == ">"):
            continue
        else:
            argv.append(w)
    start = next((i for i, w in enumerate(argv) if w.endswith("usb_modeswitch")), None)
    return (argv[start + 1 :] if start is not None else []), log


def device_facts(bus: UsbBus, modem: SimUsbModem) -> Device:
    """The storage-mode device as usb_modeswitch reads its descriptors."""
    p = modem.storage
    assert p is not None
    return Device(p.vid, p.pid, 1, modem.devnum, p.manufacturer, p.product, p.serial)


def bus_ids(bus: UsbBus, modem: SimUsbModem) -> tuple[str, ...]:
    """The other devices a search of the whole bus lists first."""
    topo = bus.topology
    others = [m.vid_pid for m in bus.modems if m is not modem and m.present and m.vid_pid]
    return (topo.root_hub.vid_pid, topo.hub.vid_pid, *others)


def install(bus: UsbBus) -> None:
    """At boot: the package's global config, and the leftover rule of the fault."""
    fs = bus.world.fs
    if not fs.exists(GLOBAL_CONFIG):
        fs.write(GLOBAL_CONFIG, GLOBAL_CONFIG_TEXT)
    if bus.world.fault(WRONG_METHOD):
        for _rule, run in bus.board_rule_runs:
            argv, _ = command_of(run, "%k")
            o = parse_options(argv)
            if o.vendor and o.product:
                wrong = wrong_method(o.method)
                flag = next(f for f, m in METHOD_FLAGS.items() if m == wrong)
                fs.write(
                    LEFTOVER_RULE,
                    f'ACTION=="add", SUBSYSTEM=="usb", ATTR{{idVendor}}=="{o.vendor}", '
                    f'ATTR{{idProduct}}=="{o.product}", '
                    f'RUN+="/usr/sbin/usb_modeswitch -v {o.vendor} -p {o.product} {flag}"\n',
                )


def wrong_method(method: str | None) -> str:
    """Another method than `method` (a Huawei stick switches on either Huawei method)."""
    return "HuaweiMode" if method == "HuaweiNewMode" else "HuaweiNewMode"


def logging_enabled(bus: UsbBus) -> bool:
    fs = bus.world.fs
    if not fs.exists(GLOBAL_CONFIG):
        return False
    text = fs.read_text(GLOBAL_CONFIG)
    return bool(re.search(r"^\s*EnableLogging\s*=\s*(1|yes|true)", text, re.I | re.M))


def udev_switch(bus: UsbBus, modem: SimUsbModem, when: float) -> None:
    """udev's rules ran for the storage-mode device: a lab rule's usb_modeswitch, else
    the dispatcher with the database's config (or an overriding one)."""
    view = bus.usb_device_view(modem)
    run = next((r for rule, r in bus.board_rule_runs if rule_applies(rule, view)), None)
    if run is not None:
        _lab_rule(bus, modem, when, run)
    else:
        _dispatch(bus, modem, when)


def rule_applies(rule: UdevRule, device) -> bool:
    first = device.interfaces[0] if device.interfaces else None
    if first is None:
        return False
    return rule.applies(device.vid, device.pid, first.cls, first.number, device.manufacturer)


def _lab_rule(bus: UsbBus, modem: SimUsbModem, when: float, run: str) -> None:
    argv, log = command_of(run, modem.sys_name)
    o = parse_options(argv)
    device = device_facts(bus, modem)
    others = bus_ids(bus, modem)
    left_over = bus.world.fault(WRONG_METHOD) and bus.world.fs.exists(LEFTOVER_RULE)
    stuck = bus.world.fault(STUCK)
    bus.switch_now(modem, when)  # by this rule, or by the leftover one before it
    report = Run(
        o.vendor or device.vid,
        o.product or device.pid,
        o.method or "",
        o.target_vendor,
        (o.target_product,) if o.target_product else (),
        o.message,
        device=None if left_over else device,
        switched=not stuck,
        bus_ids=others,
    )
    if log:
        bus.world.fs.write(log, verbose_report(report, verbose=o.verbose))


def _dispatch(bus: UsbBus, modem: SimUsbModem, when: float) -> None:
    db = bus.db
    storage = modem.storage
    assert storage is not None and db is not None
    entry: ModeswitchEntry | None = db.lookup(storage.vid, storage.pid)
    if entry is None:
        variants = db.variants_of(storage.vid, storage.pid)
        entry = variants[0] if variants else None
    if entry is None:
        bus.switch_now(modem, when)
        return
    name = entry.vid_pid + (f":{entry.variant}" if entry.variant else "")
    method, message = entry.method or "", entry.message_content
    override = bus.world.fault(WRONG_METHOD)
    if override:
        method, message = wrong_method(entry.method), None
        text = override_config(
            entry.vendor, entry.product, method, entry.target_vendor, entry.target_products
        )
        bus.world.fs.write(f"{OVERRIDE_DIR}/{name}", text)
    device = device_facts(bus, modem)
    stuck = bus.world.fault(STUCK)
    target = bus.switch_now(modem, when, entry)
    run = Run(
        entry.vendor,
        entry.product,
        method,
        entry.target_vendor,
        entry.target_products,
        message,
        dispatched=True,
        device=device,
        switched=not stuck,
        product_list="TargetProductList" in entry.keys,
    )
    after = None if stuck else (target.vid, target.pid, target.manufacturer, target.product)
    dispatch = Dispatch(
        f"{modem.sys_name}:1.0",
        device,
        name,
        override,
        after,
        entry.target_products,
        entry.target_vendor,
    )
    if logging_enabled(bus):
        bus.world.fs.write(log_name(dispatch.kernel_name), dispatcher_log(dispatch, run))
