"""Parsers of `nmcli -t` (terse) output into typed models.

Terse output separates fields with `:` and escapes `:` and `\\` inside values
with a backslash (`02\\:00\\:...`). Colours must be off (`--colors no` or
NO_COLOR): over a serial console nmcli's stdout is a terminal, so it colours
even with `-t` — we strip SGR codes defensively and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SGR = re.compile(r"\x1b\[[0-9;]*m")


def split_terse(line: str) -> list[str]:
    """One terse line → its fields, unescaping `\\:` and `\\\\`."""
    fields, cur, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            i += 2
            continue
        if c == ":":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    fields.append("".join(cur))
    return fields


def parse_terse(text: str, names: list[str]) -> list[dict[str, str]]:
    """`nmcli -t -f A,B,...` rows as dicts keyed by the field names asked for."""
    rows = []
    for line in SGR.sub("", text).splitlines():
        if not line.strip():
            continue
        values = split_terse(line)
        if len(values) != len(names):
            raise ValueError(f"nmcli -t: expected {len(names)} fields, got {len(values)}: {line!r}")
        rows.append(dict(zip(names, values, strict=True)))
    return rows


def parse_terse_show(text: str) -> dict[str, str]:
    """`nmcli -t ... show` (`KEY:value` per line) as a dict; repeated keys keep the first."""
    result: dict[str, str] = {}
    for line in SGR.sub("", text).splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = split_terse(value)
        result.setdefault(key, ":".join(value))
    return result


@dataclass(frozen=True)
class NmDevice:
    device: str
    type: str
    state: str
    connection: str | None

    @property
    def connected(self) -> bool:
        return self.state == "connected"


def parse_device_status(text: str) -> list[NmDevice]:
    """`nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device`."""
    return [
        NmDevice(
            r["DEVICE"],
            r["TYPE"],
            r["STATE"],
            None if r["CONNECTION"] in ("", "--") else r["CONNECTION"],
        )
        for r in parse_terse(text, ["DEVICE", "TYPE", "STATE", "CONNECTION"])
    ]


@dataclass(frozen=True)
class WifiNetwork:
    in_use: bool
    bssid: str
    ssid: str
    chan: int
    signal: int
    security: str


def parse_wifi_list(text: str) -> list[WifiNetwork]:
    """`nmcli -t -f IN-USE,BSSID,SSID,CHAN,SIGNAL,SECURITY device wifi list`."""
    return [
        WifiNetwork(
            r["IN-USE"] == "*",
            r["BSSID"],
            r["SSID"],
            int(r["CHAN"] or 0),
            int(r["SIGNAL"] or 0),
            "" if r["SECURITY"] == "--" else r["SECURITY"],
        )
        for r in parse_terse(text, ["IN-USE", "BSSID", "SSID", "CHAN", "SIGNAL", "SECURITY"])
    ]
