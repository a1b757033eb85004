"""What the simulated board's usb_modeswitch prints and logs, as Debian's 2.6.1 does.

`verbose_report()` is `usb_modeswitch -W`'s output for one run (its settings,
the search for the device, the procedure of its method, the messages sent and
what came back); `dispatcher_log()` wraps a run as usb_modeswitch_dispatcher
writes it to `/var/log/usb_modeswitch_<device>` when `EnableLogging=1`. The
texts follow the strings of the real binaries (`/usr/sbin/usb_modeswitch`,
`/usr/sbin/usb_modeswitch_dispatcher`) and the real reports in
`fixtures/usb_modeswitch/`; `hil.probes.usb_modeswitch` reads them back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

VERSION = "2.6.1"
CONFIG_PACK = "/usr/share/usb_modeswitch/configPack.tar.gz"
OVERRIDE_DIR = "/etc/usb_modeswitch.d"
GLOBAL_CONFIG = "/etc/usb_modeswitch.conf"
#: what /etc/usb_modeswitch.conf of the sim's image says (the package's file, with
#: the dispatcher's logging on: the lab reads the method back from its log)
GLOBAL_CONFIG_TEXT = """\
# Configuration for the usb_modeswitch package, a mode switching tool for
# USB devices providing multiple states or modes
#
# Evaluated by the wrapper script /usr/sbin/usb_modeswitch_dispatcher

DisableSwitching=0
DisableMBIMGlobal=0

# Enable logging (results in a extensive report file in /var/log, named
# "usb_modeswitch_<interface-name>" and probably others
EnableLogging=1

HuaweiAltModeGlobal=0
"""

#: the messages usb_modeswitch 2.6.1 sends for its built-in methods
HUAWEI_NEW_MESSAGE = "55534243123456780000000000000011062000000101000100000000000000"
EJECT_MESSAGES = (
    "5553424387654321000000000000061e000000000000000000000000000000",
    "5553424397654321000000000000061b000000020000000000000000000000",
)
#: the procedure line each method prints (`hil.probes.usb_modeswitch.PROCEDURES`)
PROCEDURE_LINES = {
    "HuaweiNewMode": "Using standard Huawei switching message",
    "HuaweiMode": "Send old Huawei control message ...",
    "StandardEject": "Sending standard EJECT sequence",
    "SierraMode": "Send Sierra control message",
}
#: methods that talk to the storage interface's bulk endpoints
_BULK = ("HuaweiNewMode", "StandardEject", "MessageContent")
#: printConfig()'s order of the mode keywords
_MODE_ORDER = ("HuaweiMode", "HuaweiNewMode", "SierraMode")


@dataclass(frozen=True)
class Device:
    """The storage-mode device as usb_modeswitch sees it."""

    vid: str
    pid: str
    busnum: int
    devnum: int
    manufacturer: str
    product: str
    serial: str | None


@dataclass(frozen=True)
class Run:
    """One usb_modeswitch run: what it was told, and what the device did."""

    default_vendor: str
    default_product: str
    method: str  # HuaweiNewMode, HuaweiMode, StandardEject, SierraMode, MessageContent
    target_vendor: str | None = None
    target_products: tuple[str, ...] = ()
    message: str | None = None  # MessageContent
    #: the dispatcher's call (`-W -D -u -1 -b B -g D ... -f <config>`), else a command line
    dispatched: bool = False
    #: the device found in default mode (None: none there, nothing to do)
    device: Device | None = None
    #: the device left the bus after the message (False: it stayed, stuck)
    switched: bool = True
    #: other devices on the bus, as a search without bus/device numbers lists them
    bus_ids: tuple[str, ...] = field(default_factory=tuple)
    #: the targets were given as `TargetProductList` (a config file's key), not -P
    product_list: bool = False


def _settings(run: Run) -> list[str]:
    if run.dispatched:  # -f: "Read long config" between blank lines
        lines = ["", "Read long config from command line", ""]
    else:
        lines = ["Take all parameters from the command line", "", ""]
    lines += [
        " * usb_modeswitch: handle USB devices with multiple modes",
        f" * Version {VERSION} (C) Josua Dietze 2017",
        " * Based on libusb1/libusbx",
        "",
        " ! PLEASE REPORT NEW CONFIGURATIONS !",
        "",
        f"DefaultVendor=  0x{run.default_vendor}",
        f"DefaultProduct= 0x{run.default_product}",
    ]
    if run.target_vendor:
        lines.append(f"TargetVendor=   0x{run.target_vendor}")
    if len(run.target_products) == 1 and not run.product_list:
        lines.append(f"TargetProduct=  0x{run.target_products[0]}")
    elif run.target_products:
        lines.append(f'TargetProductList="{",".join(run.target_products)}"')
    if run.method == "StandardEject":
        lines += ["", "StandardEject=1"]
    elif run.method in _MODE_ORDER:
        lines.append(f"{run.method}=1")
    if run.method == "MessageContent" and run.message:
        lines.append(f'MessageContent="{run.message}"')
    if run.dispatched:
        lines.append("System integration mode enabled")
    lines.append("")
    return lines


def _search(run: Run) -> list[str]:
    d = run.device
    lines: list[str] = []
    if run.dispatched and d is not None:
        lines.append(f"Use given bus/device number: {d.busnum:03d}/{d.devnum:03d} ...")
    elif run.target_vendor:
        lines += ["Look for target devices ...", " No devices in target mode or class found"]
    lines.append("Look for default devices ...")
    if d is None:
        return [*lines, " No devices in default mode found. Nothing to do. Bye!", ""]
    if run.dispatched:
        lines.append(" bus/device number matched")
        lines += [f"  found USB ID {d.vid}:{d.pid}", "   vendor ID matched"]
    else:
        for other in (*run.bus_ids, f"{d.vid}:{d.pid}"):
            lines.append(f"  found USB ID {other}")
            if other == f"{d.vid}:{d.pid}":
                lines.append("   vendor ID matched")
    lines += ["   product ID matched", " Found devices in default mode (1)"]
    if not run.dispatched:
        lines.append(f"Access device {d.devnum:03d} on bus {d.busnum:03d}")
    lines.append("Get the current device configuration ...")
    if not run.dispatched:  # the dispatcher passes -u -1
        lines.append("Current configuration number is 1")
    lines += ["Use interface number 0", " with class 8"]
    if run.method in _BULK:
        lines.append("Use endpoints 0x01 (out) and 0x81 (in)")
    lines += [
        "",
        "USB description data (for identification)",
        "-------------------------",
        f"Manufacturer: {d.manufacturer}",
        f"     Product: {d.product}",
        f"  Serial No.: {d.serial or 'not provided'}",
        "-------------------------",
    ]
    return lines


def _messages(run: Run) -> list[str]:
    if run.method == "StandardEject":
        messages = list(EJECT_MESSAGES)
    elif run.method == "HuaweiNewMode":
        messages = [HUAWEI_NEW_MESSAGE]
    else:
        messages = [run.message or ""]
    lines = [
        "Looking for active drivers ...",
        " OK, driver detached",
        "Set up interface 0",
        "Use endpoint 0x01 for message sending ...",
    ]
    for n, _ in enumerate(messages, 1):
        last = n == len(messages)
        lines += [
            f"Trying to send message {n} to endpoint 0x01 ...",
            " OK, message successfully sent",
            f"Read the response to message {n} (CSW) ...",
        ]
        if last and run.switched:
            lines += [
                " Device seems to have vanished after reading. Good.",
                " Device is gone, skip any further commands",
            ]
            return lines
        lines.append(" Response successfully read (13 bytes), status 0")
    lines += [
        "Reset response endpoint 0x81",
        "Reset message endpoint 0x01",
    ]
    return lines


def verbose_report(run: Run, verbose: bool = True) -> str:
    """`usb_modeswitch -W ...`'s output for the run (with `-D`: its result line);
    without `-W` (`verbose=False`) only the progress, not the settings."""
    lines = (_settings(run) if verbose else []) + _search(run)
    if run.device is not None:
        if not run.method:
            lines.append("Warning: no switching method given. See documentation")
        if run.method in PROCEDURE_LINES:
            lines.append(PROCEDURE_LINES[run.method])
        if run.method in _BULK:
            lines += _messages(run)
        if run.dispatched:
            lines.append("ok:busdev")
        else:
            lines += ["-> Run lsusb to note any changes. Bye!", ""]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Dispatch:
    """The dispatcher's side of a run: which device, which config, what came back."""

    kernel_name: str  # 1-1.3:1.0 (udev's %k of the storage interface)
    device: Device
    config_name: str  # 12d1:1f01
    override: bool  # the config came from /etc/usb_modeswitch.d
    #: (vid, pid, manufacturer, product) after the switch; None: it never came back
    after: tuple[str, str, str, str] | None
    #: the target ids the config names (for the success check's words)
    targets: tuple[str, ...]
    target_vendor: str | None


def log_name(kernel_name: str) -> str:
    """The dispatcher's log file for udev's kernel name of the interface."""
    return f"/var/log/usb_modeswitch_{kernel_name.split(':')[0]}"


def dispatcher_log(dispatch: Dispatch, run: Run) -> str:
    """What usb_modeswitch_dispatcher 2.6.1 writes with `EnableLogging=1`."""
    d, device = dispatch.device, dispatch.kernel_name.split(":")[0]
    vid, pid = d.vid, d.pid
    config = (
        f"{OVERRIDE_DIR}/{dispatch.config_name}"
        if dispatch.override
        else f"pack/{dispatch.config_name}"
    )
    stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())
    lines = [
        "",
        f"USB_ModeSwitch log from {stamp}",
        "",
        f"Use global config file: {GLOBAL_CONFIG}",
        f"Raw parameters: {{--switch-mode}} {{{dispatch.kernel_name}}} ",
        f"Use top device dir /sys/bus/usb/devices/{device}",
        "Check class of first interface ...",
        " Interface 0 class is 08.",
        "",
        "----------------",
        "USB values from sysfs:",
        f"  manufacturer\t{d.manufacturer}",
        f"  product\t{d.product}",
        f"  serial\t{d.serial or ''}",
        "----------------",
        "bNumConfigurations is 1 - don't check for active configuration",
        f"Found packed config collection {CONFIG_PACK}",
        f"ConfigList: {config} pack/{vid}:#linux",
        "SCSI attributes not needed, move on",
        f"Check config: {config}",
        "! matched. Read config data",
    ]
    if dispatch.override:
        lines.append(f"Use config file from override folder {OVERRIDE_DIR}")
    else:
        lines.append(f"Extract config {dispatch.config_name} from collection {CONFIG_PACK}")
    lines += [
        "Command line:",
        f"usb_modeswitch -W -D -u -1 -b {d.busnum} -g {d.devnum} -v {vid} -p {pid} "
        "-f $flags(config)",
        "",
        "Verbose debug output of usb_modeswitch and libusb follows",
        "(Note that some USB errors are to be expected in the process)",
        "--------------------------------",
        verbose_report(run).rstrip("\n"),
        "--------------------------------",
        "(end of usb_modeswitch output)",
        "",
        "Check success of mode switch for max. 20 seconds ...",
    ]
    lines += _success_check(dispatch)
    return "\n".join(lines) + "\n"


def _success_check(dispatch: Dispatch) -> list[str]:
    after = dispatch.after
    if after is None or (after[0], after[1]) == (dispatch.device.vid, dispatch.device.pid):
        waited = [" Read attributes ..."] * 20
        return [
            *waited,
            "",
            "Target config not matching - current values are",
            f"    {'idProduct:':<26} {dispatch.device.pid}",
            f"    {'idVendor:':<26} {dispatch.device.vid}",
            "",
            "Mode switching may have failed. Exit",
            "",
        ]
    vid, pid, manufacturer, product = after
    lines = [" Wait for device file system (1 sec.) ...", " Read attributes ..."]
    vendor_ok = vid == (dispatch.target_vendor or dispatch.device.vid)
    if vendor_ok and (not dispatch.targets or pid in dispatch.targets):
        lines.append(" All attributes matched")
    else:
        lines += [
            " Attributes are different but target values are unexpected:",
            f"    {'idProduct:':<26} {pid}",
            f"    {'idVendor:':<26} {vid}",
            f"    {'manufacturer:':<26} {manufacturer}",
            f"    {'product:':<26} {product}",
        ]
    return [
        *lines,
        f"Mode switching was successful, found {vid}:{pid} ({manufacturer}: {product})",
        "Logger is /usr/bin/logger",
        "Check for AVOID_RESET_QUIRK kernel attribute",
        " AVOID_RESET_QUIRK activated",
        "",
        "All done, exit",
        "",
    ]


def override_config(
    vid: str, pid: str, method: str, target_vendor: str | None, targets: tuple[str, ...]
) -> str:
    """A config file in /etc/usb_modeswitch.d (the dispatcher prefers it to the pack's)."""
    lines = [f"# {vid}:{pid}: a local setting left on this board"]
    if target_vendor:
        lines.append(f"TargetVendor=0x{target_vendor}")
    if targets:
        lines.append(f'TargetProductList="{",".join(targets)}"')
    lines.append(f"{method}=1")
    return "\n".join(lines) + "\n"
