"""What usb_modeswitch says it did: its verbose report (`usb_modeswitch -W`), alone or
inside its dispatcher's log (`/var/log/usb_modeswitch_<device>`).

udev hands a storage-mode device to `usb_modeswitch_dispatcher --switch-mode
1-1.3:1.0`, which picks the device's config (from /etc/usb_modeswitch.d first,
else usb-modeswitch-data's configPack.tar.gz) and runs `usb_modeswitch -W -D
... -f <config>`. With `EnableLogging=1` in /etc/usb_modeswitch.conf it
writes everything to `/var/log/usb_modeswitch_1-1.3`: the config it chose,
the program's printed settings (the mode keyword such as `HuaweiNewMode=1`, or
`MessageContent="..."`), the procedure it ran ("Using standard Huawei switching
message", "Sending standard EJECT sequence"), the messages sent, and what came
back. Without logging only two syslog lines remain (`switch device 12d1:1f01
on 001/003`, `usb_modeswitch: switched to 12d1:1506 on 001/004`), which name
the ids but not the method. A lab's own udev rule that runs usb_modeswitch
with `-W` and keeps its output leaves the same report without the dispatcher's
lines.

Formats from usb_modeswitch 2.5–2.6.1 and its dispatcher (the strings in
Debian's /usr/sbin/usb_modeswitch and usb_modeswitch_dispatcher 2.6.1); fixtures
of real reports in `fixtures/usb_modeswitch/` (see SOURCES.md there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the procedure line each special mode prints, as usb_modeswitch 2.6.1 does
PROCEDURES = {
    "Using standard Huawei switching message": "HuaweiNewMode",
    "Using alternative Huawei switching message": "HuaweiAltMode",
    "Send old Huawei control message ...": "HuaweiMode",
    "Sending standard EJECT sequence": "StandardEject",
    "Send Sierra control message": "SierraMode",
    "Using standard Option switching message": "OptionMode",
    "Detach storage driver as switching method ...": "DetachStorageOnly",
    "Send Sony control message": "SonyMode",
    "Send GCT control message 1 ...": "GCTMode",
    "Send Kobil control message ...": "KobilMode",
    "Sending Qisda control message ...": "QisdaMode",
    "Send Quanta control message ...": "QuantaMode",
    "Send Blackberry control message 1 ...": "BlackberryMode",
    "Send MobileAction control sequence ...": "MobileActionMode",
    "Send Sequans control message": "SequansMode",
}
_PROCEDURE_PREFIXES = {
    "Set up Cisco interface": "CiscoMode",
    "Send Pantech control message": "PantechMode",
}
_SETTING = re.compile(r"^(\w+)=\s*(.*)$")
_VERSION = re.compile(r"^\* Version (\S+)")
_CONFIG = re.compile(r"^Check config: (\S+)$")
_FOUND = re.compile(r"^Mode switching was successful, found ([0-9a-f]{4}):([0-9a-f]{4})", re.I)
_RESULT = re.compile(r"^(ok:\S*|fail:\S*)$")


class ModeswitchReportError(ValueError):
    """The text is no usb_modeswitch report."""


@dataclass(frozen=True)
class ModeswitchReport:
    """One run of usb_modeswitch, as its verbose report tells it."""

    version: str | None
    default_vendor: str | None
    default_product: str | None
    target_vendor: str | None
    target_products: tuple[str, ...]
    #: the mode keywords among the printed settings (`HuaweiNewMode`, `StandardEject`)
    modes: tuple[str, ...]
    #: `MessageContent`, `MessageContent2`, `MessageContent3` as printed (lowercase hex)
    message_contents: tuple[str, ...]
    #: the special procedures it ran (their method keywords, from the progress lines)
    procedures: tuple[str, ...]
    #: messages the device took ("OK, message successfully sent")
    messages_sent: int
    #: whether a device in default (storage) mode was there to switch
    found_device: bool
    #: the dispatcher's config that matched (`pack/12d1:1f01`, `/etc/usb_modeswitch.d/...`)
    config: str | None = None
    #: the dispatcher took its config from the override folder /etc/usb_modeswitch.d
    override: bool = False
    #: `ok:busdev`, `ok:12d1:1506`, `fail:` (sysmode's result line)
    result: str | None = None
    #: the dispatcher's success check: the id it found after the switch
    switched_to: str | None = None

    @property
    def method(self) -> str | None:
        """The switching method, in usb-modeswitch-data's words (`hil.usb.modeswitch`):
        the mode keyword it was given, else `MessageContent` if it sent one."""
        if self.modes:
            return self.modes[0]
        if self.message_contents:
            return "MessageContent"
        return self.procedures[0] if self.procedures else None

    @property
    def default_id(self) -> str | None:
        if self.default_vendor and self.default_product:
            return f"{self.default_vendor}:{self.default_product}"
        return None


def parse_report(text: str) -> ModeswitchReport:
    """A verbose report, alone or within the dispatcher's log (ModeswitchReportError
    if it holds neither the program's settings nor its search for the device)."""
    settings: dict[str, str] = {}
    modes: list[str] = []
    procedures: list[str] = []
    version = config = result = switched_to = None
    override = found = False
    sent = 0
    seen_program = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _VERSION.match(line):
            version, seen_program = m[1], True
        elif m := _CONFIG.match(line):
            config = m[1]
        elif line.startswith("Use config file from override folder"):
            override = True
        elif line.startswith("Found devices in default mode"):
            found = True
        elif line.startswith("Look for default devices"):
            seen_program = True
        elif line == "OK, message successfully sent":
            sent += 1
        elif line in PROCEDURES:
            procedures.append(PROCEDURES[line])
        elif any(line.startswith(p) for p in _PROCEDURE_PREFIXES):
            procedures.append(next(v for p, v in _PROCEDURE_PREFIXES.items() if line.startswith(p)))
        elif m := _RESULT.match(line):
            result = m[1]
        elif m := _FOUND.match(line):
            switched_to = f"{m[1].lower()}:{m[2].lower()}"
        elif (m := _SETTING.match(line)) and not line.startswith(("Use ", "Raw ")):
            key, value = m[1], m[2].strip().strip('"')
            settings[key] = value
            if (key == "StandardEject" or key.endswith("Mode")) and value not in ("0", ""):
                modes.append(key)
    if not seen_program:
        raise ModeswitchReportError(
            "no usb_modeswitch report (no version banner, no device search)"
        )
    targets = settings.get("TargetProductList") or settings.get("TargetProduct") or ""
    messages = tuple(
        settings[k].lower()
        for k in ("MessageContent", "MessageContent2", "MessageContent3")
        if settings.get(k)
    )
    return ModeswitchReport(
        version=version,
        default_vendor=_hex4(settings.get("DefaultVendor")),
        default_product=_hex4(settings.get("DefaultProduct")),
        target_vendor=_hex4(settings.get("TargetVendor")),
        target_products=tuple(h for t in targets.split(",") if (h := _hex4(t))),
        modes=tuple(modes),
        message_contents=messages,
        procedures=tuple(procedures),
        messages_sent=sent,
        found_device=found,
        config=config,
        override=override,
        result=result,
        switched_to=switched_to,
    )


def _hex4(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return f"{int(value.strip(), 16):04x}"
    except ValueError:
        return None
