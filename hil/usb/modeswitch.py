"""usb_modeswitch knowledge from Debian's usb-modeswitch-data.

The device database is `/usr/share/usb_modeswitch/configPack.tar.gz`: one
file per `VVVV:PPPP` (some with a `:uMa=…`/`:sVe=…` suffix: variants chosen by
the device's manufacturer/product strings), holding keys such as
`TargetVendor`, `TargetProduct` or `TargetProductList` and one mode keyword
(`HuaweiNewMode=1`, `StandardEject=1`, …) or a `MessageContent`. The udev
rules (`40-usb_modeswitch.rules`) say which devices udev hands to
usb_modeswitch at all: one rule per VID:PID, plus a generic rule for Huawei's
storage interfaces.
"""

from __future__ import annotations

import functools
import os
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hil.errors import ConfigError, HarnessError
from hil.lab.models import ModemConfig
from hil.usb.model import UsbDevice, hex4

CONFIG_PACK = Path("/usr/share/usb_modeswitch/configPack.tar.gz")
UDEV_RULES = Path("/lib/udev/rules.d/40-usb_modeswitch.rules")
#: local configs (usb_modeswitch reads these first; a lab may add its own)
LOCAL_DIR = Path("/etc/usb_modeswitch.d")

_NAME = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.+))?$")
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*$")
_MODE_KEYS = ("StandardEject",)  # plus every key ending in "Mode"


class ModeswitchDataMissing(HarnessError):
    """The usb-modeswitch-data package is not installed where expected."""


@dataclass(frozen=True)
class ModeswitchEntry:
    """One device entry of the database (DESIGN.md's `hil modeswitch lookup` fields)."""

    vendor: str
    product: str
    target_vendor: str | None
    target_products: tuple[str, ...]
    method: str | None
    message_content: str | None
    variant: str | None = None  # e.g. "uMa=Qualcomm"
    comment: str = ""  # the model names on the file's first comment line
    keys: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def vid_pid(self) -> str:
        return f"{self.vendor}:{self.product}"

    def as_json(self) -> dict[str, object]:
        return {
            "vendor": self.vendor,
            "product": self.product,
            "target_vendor": self.target_vendor,
            "target_products": list(self.target_products),
            "method": self.method,
            "message_content": self.message_content,
        }


def parse_entry(
    vendor: str, product: str, text: str, variant: str | None = None
) -> ModeswitchEntry:
    """One config file (`KEY=value` lines, `#` comments) as an entry."""
    keys: dict[str, str] = {}
    comments: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("# ").strip())
            continue
        m = _KEY.match(stripped)
        if m:
            keys[m.group(1)] = m.group(2).strip('"')
    vendor, product = hex4(vendor), hex4(product)
    target_vendor = _hex_or_none(keys.get("TargetVendor"))
    targets: list[str] = []
    if "TargetProductList" in keys:
        targets = [hex4(t) for t in keys["TargetProductList"].split(",") if t.strip()]
    elif "TargetProduct" in keys:
        targets = [hex4(keys["TargetProduct"])]
    message = keys.get("MessageContent", "").lower() or None
    return ModeswitchEntry(
        vendor=vendor,
        product=product,
        target_vendor=target_vendor,
        target_products=tuple(targets),
        method=_method(keys, message),
        message_content=message,
        variant=variant,
        comment=comments[0] if comments else "",
        keys=keys,
    )


def _hex_or_none(value: str | None) -> str | None:
    try:
        return hex4(value) if value else None
    except ValueError:
        return None


def _method(keys: Mapping[str, str], message: str | None) -> str | None:
    for key, value in keys.items():
        if (key in _MODE_KEYS or key.endswith("Mode")) and value.strip() not in ("0", ""):
            return key
    if message:
        return "MessageContent"
    if "Configuration" in keys:
        return "Configuration"
    return None


@dataclass(frozen=True)
class UdevRule:
    """One usb_modeswitch udev rule, as the conditions it tests."""

    conditions: tuple[tuple[str, str, str], ...]  # (key, op, value)

    def applies(
        self,
        vid: str,
        pid: str,
        interface_class: int,
        interface_number: int,
        manufacturer: str | None,
    ) -> bool:
        facts = {
            "idVendor": vid,
            "idProduct": pid,
            "bInterfaceClass": f"{interface_class:02x}",
            "bInterfaceNumber": f"{interface_number:02x}",
            "manufacturer": manufacturer or "",
        }
        for key, op, value in self.conditions:
            seen = facts.get(key)
            if seen is None:
                continue
            equal = seen.lower() == value.lower()
            if (op == "==") != equal:
                return False
        return True


_COND = re.compile(r'(ATTRS?)\{(\w+)\}\s*(==|!=)\s*"([^"]*)"')


def parse_rules(text: str) -> list[UdevRule]:
    """The rules that RUN usb_modeswitch (the symlink rule for ttys is not one)."""
    rules = []
    for line in text.splitlines():
        if "RUN+=" not in line or "usb_modeswitch" not in line or line.lstrip().startswith("#"):
            continue
        conds = tuple((m.group(2), m.group(3), m.group(4)) for m in _COND.finditer(line))
        if conds:
            rules.append(UdevRule(conds))
    return rules


class ModeswitchDb:
    """The database: entries by VID:PID (plain and variants), and the udev rules."""

    def __init__(
        self,
        entries: Mapping[str, ModeswitchEntry],
        variants: Mapping[str, list[ModeswitchEntry]],
        rules: list[UdevRule],
        source: str = str(CONFIG_PACK),
    ) -> None:
        self.entries = dict(entries)
        self.variants = {k: list(v) for k, v in variants.items()}
        self.rules = rules
        self.source = source

    @classmethod
    def load(
        cls,
        pack: Path | str = CONFIG_PACK,
        rules: Path | str | None = UDEV_RULES,
        local_dir: Path | str | None = None,
    ) -> ModeswitchDb:
        """Read the config pack (and optionally a directory of local configs that override it)."""
        pack = Path(pack)
        if not pack.is_file():
            raise ModeswitchDataMissing(
                f"{pack}: usb_modeswitch database not found (install usb-modeswitch-data)"
            )
        stat = pack.stat()
        db = _load_pack(str(pack), stat.st_mtime_ns, stat.st_size)
        entries, variants = dict(db.entries), {k: list(v) for k, v in db.variants.items()}
        if local_dir is not None and Path(local_dir).is_dir():
            for f in sorted(Path(local_dir).iterdir()):
                m = _NAME.match(f.name)
                if m and f.is_file():
                    _add(entries, variants, m, f.read_text(errors="replace"))
        rule_list: list[UdevRule] = []
        if rules is not None and Path(rules).is_file():
            rule_list = parse_rules(Path(rules).read_text(errors="replace"))
        return cls(entries, variants, rule_list, source=str(pack))

    def lookup(self, vid: str, pid: str) -> ModeswitchEntry | None:
        """The plain `VVVV:PPPP` entry, or None."""
        return self.entries.get(f"{hex4(vid)}:{hex4(pid)}")

    def variants_of(self, vid: str, pid: str) -> list[ModeswitchEntry]:
        return self.variants.get(f"{hex4(vid)}:{hex4(pid)}", [])

    def switchable(self, vid: str, pid: str) -> bool:
        return self.lookup(vid, pid) is not None or bool(self.variants_of(vid, pid))

    def triggered_by_udev(self, device: UsbDevice) -> bool:
        """Would the udev rules run usb_modeswitch for this device (storage interface 0)?"""
        first = device.interfaces[0] if device.interfaces else None
        if first is None:
            return False
        return any(
            r.applies(device.vid, device.pid, first.cls, first.number, device.manufacturer)
            for r in self.rules
        )

    def is_target(self, vid: str, pid: str) -> bool:
        """Whether some entry switches a device INTO this VID:PID."""
        vid, pid = hex4(vid), hex4(pid)
        return any(
            e.target_vendor == vid and pid in e.target_products for e in self.entries.values()
        )


def _add(
    entries: dict[str, ModeswitchEntry],
    variants: dict[str, list[ModeswitchEntry]],
    m: re.Match[str],
    text: str,
) -> None:
    vid, pid, variant = m.group(1), m.group(2), m.group(3)
    entry = parse_entry(vid, pid, text, variant)
    if variant:
        variants.setdefault(entry.vid_pid, []).append(entry)
    else:
        entries[entry.vid_pid] = entry


@functools.lru_cache(maxsize=4)
def _load_pack(path: str, _mtime: int, _size: int) -> ModeswitchDb:
    entries: dict[str, ModeswitchEntry] = {}
    variants: dict[str, list[ModeswitchEntry]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                m = _NAME.match(os.path.basename(member.name))
                if not (m and member.isfile()):
                    continue
                f = tar.extractfile(member)
                if f is not None:
                    _add(entries, variants, m, f.read().decode("utf-8", "replace"))
    except (tarfile.TarError, OSError) as e:
        raise ModeswitchDataMissing(
            f"{path}: cannot read the usb_modeswitch database: {e}"
        ) from None
    return ModeswitchDb(entries, variants, [], source=path)


def parse_vid_pid(text: str) -> tuple[str, str]:
    """`VVVV:PPPP` (hex, `0x` allowed) as two 4-digit lowercase ids, or ConfigError."""
    parts = text.strip().split(":")
    if len(parts) == 2:
        try:
            vid, pid = hex4(parts[0]), hex4(parts[1])
            if len(vid) == 4 and len(pid) == 4:
                return vid, pid
        except ValueError:
            pass
    raise ConfigError(f"expected VID:PID as 4 hex digits each (e.g. 12d1:1f01), got {text!r}")


@dataclass(frozen=True)
class StuckInStorage:
    """A modem that usb_modeswitch should have switched, still in storage mode."""

    device: UsbDevice
    entry: ModeswitchEntry

    def __str__(self) -> str:
        targets = ",".join(self.entry.target_products) or "?"
        vendor = self.entry.target_vendor or self.device.vid
        return (
            f"modem at {self.device.id_path or self.device.devpath} is stuck in storage mode as "
            f"{self.device.vid_pid}: usb_modeswitch ({self.entry.method}) should have switched it "
            f"to {vendor}:{{{targets}}} (drivers now: {', '.join(self.device.drivers) or 'none'})"
        )


def stuck_in_storage(device: UsbDevice, db: ModeswitchDb) -> StuckInStorage | None:
    """The problem, if `device` is in storage mode although the database can switch it."""
    if device.mode != "storage":
        return None
    entry = db.lookup(device.vid, device.pid)
    if entry is None:
        variants = db.variants_of(device.vid, device.pid)
        entry = variants[0] if variants else None
    if entry is None:
        return None
    return StuckInStorage(device, entry)


#: usb_modeswitch's command-line switch for each mode keyword a udev rule can carry
METHOD_FLAGS = {
    "HuaweiNewMode": "-J",
    "HuaweiMode": "-H",
    "StandardEject": "-K",
    "SierraMode": "-S",
}
SBIN_USB_MODESWITCH = "/usr/sbin/usb_modeswitch"
#: where a run's report goes: the dispatcher's log names (+ the device's kernel name)
REPORT_PREFIX = "/var/log/usb_modeswitch_"


def parse_config(text: str, where: str = "usb_modeswitch configuration") -> ModeswitchEntry:
    """A usb_modeswitch configuration (`DefaultVendor=0x1e0e`, `DefaultProduct=...`,
    targets, a mode keyword or `MessageContent`) as an entry, or ConfigError."""
    keys = {m.group(1): m.group(2).strip('"') for m in map(_KEY.match, text.splitlines()) if m}
    try:
        vendor, product = hex4(keys["DefaultVendor"]), hex4(keys["DefaultProduct"])
    except KeyError as e:
        raise ConfigError(f"{where}: no {e.args[0]}= line") from None
    except ValueError:
        raise ConfigError(f"{where}: DefaultVendor/DefaultProduct are not hex ids") from None
    entry = parse_entry(vendor, product, text)
    if entry.method is None:
        raise ConfigError(
            f"{where}: no mode keyword (HuaweiNewMode=1, StandardEject=1, ...) "
            "and no MessageContent="
        )
    return entry


def udev_rule_for(entry: ModeswitchEntry, where: str = "usb_modeswitch configuration") -> str:
    """One udev rule that runs usb_modeswitch with the entry's parameters when the
    device enumerates in its default (storage) mode — what a board whose
    usb_modeswitch database lacks the device needs (balenaOS: config.json's
    `os.udevRules`, whose /etc cannot take a usb_modeswitch.d file). The run is
    verbose (`-W`) and its report kept where the dispatcher keeps its own,
    `/var/log/usb_modeswitch_<device>` (udev's `%k`), so that the method it used
    can be read back from the board (`hil.probes.usb_modeswitch`)."""
    args = [SBIN_USB_MODESWITCH, "-W", "-v", entry.vendor, "-p", entry.product]
    if entry.target_vendor:
        args += ["-V", entry.target_vendor]
    if len(entry.target_products) == 1:
        args += ["-P", entry.target_products[0]]
    if entry.method == "MessageContent":
        args += ["-M", entry.message_content or ""]
    elif entry.method in METHOD_FLAGS:
        args.append(METHOD_FLAGS[entry.method])
    else:
        raise ConfigError(
            f"{where}: {entry.method} has no usb_modeswitch command-line switch; give the "
            "udev rule itself (udev_rule)"
        )
    command = f"{' '.join(args)} >{REPORT_PREFIX}%k 2>&1"
    return (
        f'ACTION=="add", SUBSYSTEM=="usb", ATTR{{idVendor}}=="{entry.vendor}", '
        f'ATTR{{idProduct}}=="{entry.product}", RUN+="/bin/sh -c \'{command}\'"'
    )


RULES_DIR = "/etc/udev/rules.d"


@dataclass(frozen=True)
class LabRule:
    """The rule for one modem: its `os.udevRules` name and text."""

    name: str
    text: str
    #: the lab's usb_modeswitch configuration it came from (None: the lab's own rule)
    entry: ModeswitchEntry | None = None

    @property
    def path(self) -> str:
        """Where balenaOS installs it at boot."""
        return f"{RULES_DIR}/{self.name}.rules"


def lab_rule(board: str, modem: ModemConfig) -> LabRule | None:
    """The rule the lab config supplies for `modem`, if any (ConfigError if unusable)."""
    name = f"hil-modeswitch-{modem.name}"
    if modem.udev_rule:
        return LabRule(name, modem.udev_rule.strip())
    if modem.modeswitch_config:
        where = f"{board}: modems.{modem.name}.modeswitch_config"
        entry = parse_config(modem.modeswitch_config, where)
        return LabRule(name, udev_rule_for(entry, where), entry)
    return None


def lab_udev_rules(board: str, modems: Sequence[ModemConfig]) -> dict[str, str]:
    """config.json's `os.udevRules` for the lab's modems that need one (name → rule):
    what `hil flash` provisions, so that a flashed board boots with them."""
    return {r.name: r.text for r in (lab_rule(board, m) for m in modems) if r is not None}
