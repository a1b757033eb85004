"""Writing a profile back as a keyfile (what NetworkManager saves for a D-Bus add)."""

from __future__ import annotations

from hil.sim.nm.profiles import NMCLI_TYPES, Profile

#: the section order NetworkManager writes
_ORDER = [
    "connection",
    "ethernet",
    "wifi",
    "wifi-security",
    "802-1x",
    "gsm",
    "serial",
    "ipv4",
    "ipv6",
    "proxy",
]


def dump(profile: Profile) -> str:
    sections = sorted(profile.settings, key=lambda s: _ORDER.index(s) if s in _ORDER else 99)
    out = []
    for section in sections:
        out.append(f"[{section}]")
        for key, value in profile.settings[section].items():
            if section == "connection" and key == "type":
                value = {v: k for k, v in NMCLI_TYPES.items()}.get(value, value)
            out.append(f"{key}={value}")
        out.append("")
    return "\n".join(out)
