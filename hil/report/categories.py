"""`categories.json`: failures sorted the way a lab engineer triages them.

Allure matches a failed or broken result against these rules in order (first
match wins) on its message — never on the trace, which quotes the test's own
source and would sort every failure of a WiFi test under "psk". The message
of a hil error starts with its class (`hil.console.session.BoardRebooted: …`).
The patterns name what the harness and
the real tools print: hil's own errors (`BoardRebooted`, `CommandTimeout`,
"console lost"), nmcli/mmcli messages, and the words suites use in their
assertion messages ("modem not found", "SIM", "registration", "APN", ...).
Patterns are written `[\\s\\S]*…[\\s\\S]*` so they work both where allure
matches the whole text (Allure 2) and where it searches (Allure 3).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_FAILED = ["failed", "broken"]


def _any(*alternatives: str) -> str:
    return r"[\s\S]*(?:" + "|".join(alternatives) + r")[\s\S]*"


#: (name, pattern on message or trace), most specific first
CATEGORY_RULES: list[tuple[str, str]] = [
    (
        "Board rebooted",
        _any(r"BoardRebooted", r"[Bb]oard rebooted", r"Kernel panic", r"reboot: Restarting"),
    ),
    (
        "Console lost or timed out",
        _any(
            r"CommandTimeout",
            r"timed out after",
            r"[Cc]onsole (?:lost|closed|does not answer)",
            r"no shell prompt",
            r"login refused",
        ),
    ),
    (
        "Modem stuck in storage mode",
        _any(r"stuck in storage mode", r"[Ss]torage mode", r"modem-stuck-in-storage-mode"),
    ),
    (
        "Modem not found",
        _any(r"[Mm]odem not found", r"[Nn]o modems? (?:were )?found", r"[Nn]o modem at"),
    ),
    (
        "SIM",
        _any(
            r"\bSIM\b",
            r"sim-missing",
            r"[Ss]im (?:missing|locked|not inserted)",
            r"PIN required",
            r"sim-pin",
            r"SimMissing",
        ),
    ),
    (
        "Registration",
        _any(r"[Rr]egistration", r"not registered", r"[Rr]egistered", r"no-registration"),
    ),
    (
        "APN / bearer",
        _any(r"\bAPN\b", r"\bapn\b", r"[Bb]earer", r"wrong-apn"),
    ),
    (
        "WiFi authentication",
        _any(
            r"[Ss]ecrets were required",
            r"802-1[xX]",
            r"\bpsk\b",
            r"\bPSK\b",
            r"wrong-psk",
            r"enterprise-auth",
            r"supplicant",
            r"4-way handshake",
            r"(?:WiFi|Wi-Fi|wifi) auth",
            r"[Aa]uthentication (?:failed|rejected)",
        ),
    ),
    (
        "DHCP",
        _any(r"\bDHCP\b", r"\bdhcp\b", r"IP configuration could not be reserved", r"ip-config"),
    ),
    (
        "DNS",
        _any(r"\bDNS\b", r"\bdns\b", r"[Cc]ould not resolve", r"Name or service not known"),
    ),
    (
        "NTP",
        _any(r"\bNTP\b", r"\bntp\b", r"chrony", r"[Tt]ime (?:is )?not synchroni[sz]ed"),
    ),
    (
        "Proxy",
        _any(r"[Pp]roxy", r"redsocks"),
    ),
]


def categories() -> list[dict]:
    """The categories in allure's `categories.json` format (Allure 3 reads it too)."""
    return [
        {"name": name, "matchedStatuses": _FAILED, "messageRegex": pattern}
        for name, pattern in CATEGORY_RULES
    ]


def categorize(message: str) -> str | None:
    """The category of a failure's message (the same rules, applied here for the matrix)."""
    for name, pattern in CATEGORY_RULES:
        if re.fullmatch(pattern, message):
            return name
    return None


def write_categories(results_dir: Path) -> Path:
    path = results_dir / "categories.json"
    path.write_text(json.dumps(categories(), indent=2) + "\n", encoding="utf-8")
    return path
