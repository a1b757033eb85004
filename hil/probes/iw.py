"""Parsers of `iw` output: `iw reg get`, the channels of `iw list`, `iw dev`, `iw dev X link`.

iw says its output is not stable; these parsers read only the lines whose
format iw has kept for years (see fixtures/iw for real captures).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_RULE = re.compile(
    r"^\s*\((?P<start>\d+(?:\.\d+)?) - (?P<end>\d+(?:\.\d+)?) @ (?P<bw>\d+(?:\.\d+)?)\), "
    r"\((?P<gain>[^,]+), (?P<eirp>[^)]+)\)(?:, \((?P<cac>[^)]*)\))?(?P<flags>(?:, [A-Z0-9-]+)*)\s*$"
)
_COUNTRY = re.compile(r"^country (?P<alpha2>\S\S): (?P<dfs>\S+)")
_FREQ = re.compile(r"^\s*\* (?P<mhz>\d+(?:\.\d+)?) MHz \[(?P<chan>\d+)\](?P<rest>.*)$")
_CHANNEL = re.compile(r"channel (?P<chan>\d+) \((?P<mhz>\d+(?:\.\d+)?) MHz\)")


def frequency(channel: int) -> float:
    """Center frequency (MHz) of a 2.4/5 GHz channel, as iw prints it."""
    if channel == 14:
        return 2484.0
    return float(2407 + 5 * channel if channel < 14 else 5000 + 5 * channel)


@dataclass(frozen=True)
class RegRule:
    start_mhz: float
    end_mhz: float
    max_bw_mhz: float
    max_eirp_dbm: float
    flags: tuple[str, ...]

    def covers(self, center_mhz: float, width_mhz: float = 20) -> bool:
        return (
            self.start_mhz <= center_mhz - width_mhz / 2
            and center_mhz + width_mhz / 2 <= self.end_mhz
            and width_mhz <= self.max_bw_mhz
        )


@dataclass(frozen=True)
class RegDomain:
    """One block of `iw reg get`: the global domain, or a phy's own (self-managed)."""

    scope: str  # "global" or "phy#0"
    country: str  # "GB", or "00" for the world domain
    dfs_region: str  # DFS-ETSI, DFS-FCC, DFS-JP, DFS-UNSET
    rules: tuple[RegRule, ...]
    self_managed: bool = False

    @property
    def is_world(self) -> bool:
        return self.country == "00"


def parse_reg_get(text: str) -> list[RegDomain]:
    """`iw reg get` → its blocks, the global one first as iw prints it."""
    blocks: list[RegDomain] = []
    scope, country, dfs, rules, managed = "global", None, "", [], False

    def close() -> None:
        if country is not None:
            blocks.append(RegDomain(scope, country, dfs, tuple(rules), managed))

    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "global" or stripped.startswith("phy#"):
            close()
            scope = stripped.split(" ")[0]
            managed = "(self-managed)" in stripped
            country, dfs, rules = None, "", []
        elif m := _COUNTRY.match(stripped):
            if country is not None:  # a country line without its own scope line
                close()
                rules = []
            country, dfs = m["alpha2"], m["dfs"]
        elif (m := _RULE.match(line)) and country is not None:
            eirp = m["eirp"].strip()
            rules.append(
                RegRule(
                    float(m["start"]),
                    float(m["end"]),
                    float(m["bw"]),
                    float(eirp) if eirp not in ("N/A", "") else 0.0,
                    tuple(f.strip() for f in m["flags"].split(",") if f.strip()),
                )
            )
    close()
    if not blocks:
        raise ValueError(f"iw reg get: no `country XX:` line in {text[:120]!r}")
    return blocks


def global_domain(text: str) -> RegDomain:
    """The global block of `iw reg get` (the kernel's domain, which `country` sets)."""
    blocks = parse_reg_get(text)
    return next((b for b in blocks if b.scope == "global"), blocks[0])


@dataclass(frozen=True)
class Channel:
    channel: int
    mhz: float
    disabled: bool
    no_ir: bool  # "no IR" (or the older "passive scanning"): may not transmit first
    radar: bool
    max_dbm: float | None

    @property
    def usable(self) -> bool:
        return not self.disabled


#: the bands of `iw list` by their frequency range in MHz (channel numbers repeat
#: across them: 6 GHz has a channel 13, and so has the 5 GHz band's 4.9 GHz part)
BANDS: dict[str, tuple[float, float]] = {
    "2.4": (2400.0, 2500.0),
    "5": (4900.0, 5925.0),
    "6": (5925.0, 7125.0),
    "60": (57000.0, 71000.0),
}


def parse_channels(text: str, band: str = "2.4") -> dict[int, Channel]:
    """The `Frequencies:` lines of `iw list` / `iw phy` → the channels of one band
    (`BANDS`: "2.4", "5", "6", "60") by number."""
    low, high = BANDS[band]
    channels = {}
    for line in text.splitlines():
        m = _FREQ.match(line)
        if not m or not low <= float(m["mhz"]) < high:
            continue
        rest = m["rest"]
        power = re.search(r"\((\d+(?:\.\d+)?) dBm\)", rest)
        chan = int(m["chan"])
        channels[chan] = Channel(
            chan,
            float(m["mhz"]),
            "(disabled)" in rest,
            "no IR" in rest or "passive scan" in rest,
            "radar detection" in rest,
            float(power.group(1)) if power else None,
        )
    return channels


@dataclass(frozen=True)
class WifiInterface:
    name: str
    phy: str
    type: str  # managed, AP, ...
    addr: str | None = None
    ssid: str | None = None
    channel: int | None = None
    mhz: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_iw_dev(text: str) -> dict[str, WifiInterface]:
    """`iw dev` → its interfaces by name."""
    found: dict[str, WifiInterface] = {}
    phy = ""
    current: dict[str, str] | None = None

    def close() -> None:
        if current and "name" in current:
            chan = _CHANNEL.search(current.get("channel_line", ""))
            found[current["name"]] = WifiInterface(
                current["name"],
                current["phy"],
                current.get("type", ""),
                current.get("addr"),
                current.get("ssid"),
                int(chan["chan"]) if chan else None,
                float(chan["mhz"]) if chan else None,
            )

    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("phy#"):
            close()
            current, phy = None, line.strip()
        elif stripped.startswith("Interface "):
            close()
            current = {"name": stripped.split(" ", 1)[1], "phy": phy}
        elif current is not None and " " in stripped:
            key, value = stripped.split(" ", 1)
            if key == "channel":
                current["channel_line"] = stripped
            elif key in ("ssid", "type", "addr"):
                current[key] = value
    close()
    return found


@dataclass(frozen=True)
class LinkInfo:
    connected: bool
    bssid: str | None = None
    ssid: str | None = None
    mhz: float | None = None
    signal_dbm: int | None = None


def parse_iw_link(text: str) -> LinkInfo:
    """`iw dev X link` → whether and where the station is associated."""
    m = re.search(r"Connected to ([0-9a-fA-F:]{17})", text)
    if not m:
        return LinkInfo(False)
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    signal = re.match(r"(-?\d+)", fields.get("signal", ""))
    freq = fields.get("freq")
    return LinkInfo(
        True,
        m.group(1).upper(),
        fields.get("SSID"),
        float(freq) if freq else None,
        int(signal.group(1)) if signal else None,
    )
