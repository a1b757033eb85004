"""The air around a simulated board: regulatory domain, channels, and the hotspot's stations.

Regulatory domain: balenaOS applies `country` from config.json at boot (until
then, and without it, the kernel is in the world domain `00`). Domains come
from the real wireless-regdb (`hil.sim.regdb`). Which channels a station can
join follows cfg80211: a channel the domain does not cover at 20 MHz is
disabled; on a NO-IR (passive-scan) channel the radio may not transmit first,
so it hears beaconing APs but cannot probe for a hidden one; an AP (hotspot)
needs a channel without NO-IR. So an AP on channel 13 is joinable with `GB`,
not with `US` (channel disabled).

Hotspot: a board in `mode=ap` with `method=shared` serves DHCP (NetworkManager
runs dnsmasq) on 10.42.0.0/24; the lab's test client is a `Station` that
associates with the psk, asks for a lease and pings the board.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hil.sim import regdb

if TYPE_CHECKING:
    from hil.sim.nm.devices import WifiDevice
    from hil.sim.nm.profiles import Profile
    from hil.sim.world import World

WORLD = "00"
#: what the Pi's brcmfmac offers: 2.4 GHz 1-14, 5 GHz UNII-1..3 and DFS channels
CHANNELS_2G = list(range(1, 15))
CHANNELS_5G = [36, 40, 44, 48, 52, 56, 60, 64, *range(100, 145, 4), 149, 153, 157, 161, 165]
DRIVER_MAX_DBM = 20
SHARED_NET = ipaddress.IPv4Network("10.42.0.0/24")  # NetworkManager's ipv4.method=shared
LEASES = "/var/lib/NetworkManager/dnsmasq-{dev}.leases"


def frequency(channel: int) -> int:
    """Center frequency in MHz of a 2.4/5 GHz channel number."""
    if channel == 14:
        return 2484
    if channel < 14:
        return 2407 + 5 * channel
    return 5000 + 5 * channel


@dataclass(frozen=True)
class ChannelState:
    channel: int
    mhz: int
    disabled: bool
    no_ir: bool = False
    radar: bool = False
    max_dbm: float = 0.0


class Regulatory:
    """The regulatory domain in force on the board (`iw reg get`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        #: the country config.json asked for at the last boot (None: not set)
        self.requested: str | None = None

    def boot(self) -> None:
        """balenaOS sets the domain from config.json's `country` at boot."""
        self.requested = None
        path = "/mnt/boot/config.json"
        if not self.world.fs.isfile(path):
            return
        try:
            country = json.loads(self.world.fs.read_text(path)).get("country")
        except (ValueError, AttributeError):
            return  # a broken config.json: the OS applies nothing
        if isinstance(country, str) and country.upper() in regdb.load():
            self.requested = country.upper()

    @property
    def domain(self) -> regdb.RegDomain:
        db = regdb.load()
        if self.requested and not self.world.fault("regdomain-unset"):
            return db[self.requested]
        return db[WORLD]

    def channel(self, channel: int, mhz: int | None = None) -> ChannelState:
        """A channel's state; `mhz` for a band whose numbers repeat another's (6 GHz)."""
        mhz = mhz or frequency(channel)
        rule = self.domain.rule_for(mhz)
        if rule is None:
            return ChannelState(channel, mhz, disabled=True)
        dbm = min(rule.max_eirp_mbm / 100, DRIVER_MAX_DBM)
        return ChannelState(channel, mhz, False, rule.no_ir, rule.dfs, dbm)

    def station_can_join(self, channel: int, hidden: bool) -> bool:
        """A station hears beacons on passive channels, but cannot probe for a hidden SSID."""
        state = self.channel(channel)
        return not state.disabled and not (state.no_ir and hidden)

    def ap_allowed(self, channel: int) -> bool:
        state = self.channel(channel)
        return not state.disabled and not state.no_ir and not state.radar


def pem_fingerprint(pem: str) -> str | None:
    """sha256 of the first certificate's DER, as hex (what `openssl x509 -fingerprint
    -sha256` prints, without the colons); None when the text holds no certificate."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in pem or end not in pem:
        return None
    body = pem.split(begin, 1)[1].split(end, 1)[0]
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except ValueError:
        return None
    return hashlib.sha256(der).hexdigest()


def same_fingerprint(a: str | None, b: str) -> bool:
    return a is not None and a.replace(":", "").lower() == b.replace(":", "").lower()


# -- iw output ----------------------------------------------------------------


#: the 6 GHz band's 20 MHz channels
CHANNELS_6G = tuple(range(1, 234, 4))


def render_iw_list(reg: Regulatory) -> str:
    """`iw list` (the parts the suites read), channels from the domain in force."""
    out = [
        "Wiphy phy0",
        "\twiphy index: 0",
        "\tmax # scan SSIDs: 10",
        "\tSupported interface modes:",
        *(f"\t\t * {m}" for m in ("IBSS", "managed", "AP", "P2P-client", "P2P-GO", "P2P-device")),
    ]
    bands = (
        ("Band 1:", [(ch, frequency(ch)) for ch in CHANNELS_2G]),
        ("Band 2:", [(ch, frequency(ch)) for ch in CHANNELS_5G]),
        # 6 GHz as a 6.1 kernel's mac80211_hwsim lists it: its channel numbers repeat
        # 2.4 GHz's (fixtures/iw/list-frequencies-hwsim-us.txt)
        ("Band 4:", [(ch, 5950 + 5 * ch) for ch in CHANNELS_6G]),
    )
    for band, channels in bands:
        out += [f"\t{band}", "\t\tFrequencies:"]
        for ch, mhz in channels:
            st = reg.channel(ch, mhz)
            line = f"\t\t\t* {st.mhz} MHz [{ch}]"
            if st.disabled:
                out.append(line + " (disabled)")
                continue
            line += f" ({st.max_dbm:.1f} dBm)"
            flags = [f for f, on in (("no IR", st.no_ir), ("radar detection", st.radar)) if on]
            if flags:
                line += f" ({', '.join(flags)})"
            out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Association:
    """What wlan0 is doing on the air, for `iw dev`/`iw link`."""

    mode: str  # "managed" | "AP"
    ssid: str
    channel: int
    bssid: str = ""
    signal: int = 0


def render_iw_dev(dev: WifiDevice, assoc: Association | None, ifindex: int) -> str:
    lines = [
        "phy#0",
        f"\tInterface {dev.name}",
        f"\t\tifindex {ifindex}",
        "\t\twdev 0x1",
        f"\t\taddr {dev.mac}",
    ]
    if assoc:
        lines.append(f"\t\tssid {assoc.ssid}")
    lines.append(f"\t\ttype {assoc.mode if assoc else 'managed'}")
    if assoc:
        mhz = frequency(assoc.channel)
        lines.append(f"\t\tchannel {assoc.channel} ({mhz} MHz), width: 20 MHz, center1: {mhz} MHz")
    lines.append("\t\ttxpower 31.00 dBm")
    return "\n".join(lines) + "\n"


def render_iw_link(dev: WifiDevice, assoc: Association | None) -> str:
    if assoc is None or assoc.mode != "managed":
        return "Not connected.\n"
    return (
        f"Connected to {assoc.bssid.lower()} (on {dev.name})\n"
        f"\tSSID: {assoc.ssid}\n"
        f"\tfreq: {frequency(assoc.channel)}\n"
        "\tRX: 48213 bytes (402 packets)\n"
        "\tTX: 9120 bytes (88 packets)\n"
        f"\tsignal: {-100 + assoc.signal // 2} dBm\n"
        "\ttx bitrate: 72.2 MBit/s\n"
        "\n"
        "\tbss flags:\tshort-preamble short-slot-time\n"
        "\tdtim period:\t1\n"
        "\tbeacon int:\t100\n"
    )


# -- the hotspot's test client ---------------------------------------------------


@dataclass
class StationResult:
    """What the lab's test client saw when it tried to use the board's hotspot."""

    associated: bool
    address: str | None = None
    gateway: str | None = None
    reached_board: bool = False
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Station:
    """The simulated lab client: a WiFi station near the board."""

    mac: str
    hostname: str = "hil-client"
    leases: dict[str, str] = field(default_factory=dict)

    def join(self, world: World, ssid: str, psk: str | None) -> StationResult:
        """Associate with the board's AP, ask its DHCP server for a lease, ping the board."""
        hotspot = _serving_ap(world)
        if hotspot is None or hotspot[1].ssid != ssid:
            return StationResult(False, reason=f"no access point with SSID {ssid!r} in range")
        profile, _ = hotspot
        key_mgmt = profile.get("wifi-security", "key-mgmt")
        if key_mgmt == "wpa-psk" and profile.get("wifi-security", "psk") != psk:
            return StationResult(False, reason="4-way handshake failed (wrong passphrase)")
        if key_mgmt not in (None, "", "none", "wpa-psk"):
            return StationResult(False, reason=f"AP asks for key-mgmt {key_mgmt}")
        if world.fault("hotspot-dhcp-fails"):
            return StationResult(True, reason="associated, but no DHCPOFFER from the board")
        address = self._lease(world, profile)
        gateway = str(SHARED_NET.network_address + 1)
        return StationResult(True, f"{address}/24", gateway, reached_board=True)

    def _lease(self, world: World, profile: Profile) -> str:
        host = 10 + zlib.crc32(self.mac.encode()) % 240  # dnsmasq's range .10-.254
        address = str(SHARED_NET.network_address + host)
        dev = profile.interface_name or "wlan0"
        expiry = int(time.time()) + 3600
        path = LEASES.format(dev=dev)
        lines = [
            line
            for line in (world.fs.read_text(path).splitlines() if world.fs.isfile(path) else [])
            if f" {self.mac} " not in line
        ]
        lines.append(f"{expiry} {self.mac} {address} {self.hostname} 01:{self.mac}")
        world.fs.write(path, "\n".join(lines) + "\n")
        air_of(world).stations[self.mac] = address
        return address


def _serving_ap(world: World):
    """(profile, association) of the board's active AP, if one is up."""
    from hil.sim.nm.devices import WifiDevice

    nm = world.nm
    nm.tick()
    for st in nm.devices.values():
        if isinstance(st.device, WifiDevice):
            assoc = st.device.association()
            if assoc is not None and assoc.mode == "AP":
                return st.activation.profile, assoc  # type: ignore[union-attr]
    return None


def hotspot_stations(world: World) -> dict[str, str]:
    """MAC → address of the stations the hotspot gave a lease (for `iw station dump`)."""
    if _serving_ap(world) is None:
        return {}
    return dict(air_of(world).stations)


class Air:
    """The WiFi side of a world: its regulatory state and the hotspot's stations."""

    def __init__(self, world: World) -> None:
        self.regulatory = Regulatory(world)
        self.stations: dict[str, str] = {}
        self.client = Station("02:11:42:00:00:0a")

    def boot(self, world: World) -> None:
        self.regulatory.boot()
        self.stations.clear()


def air_of(world: World) -> Air:
    """The world's `Air`, created (and hooked into boot) on first use."""
    air = world.subsystems.get("wifi")
    if air is None:
        air = world.subsystems["wifi"] = Air(world)
        world.boot_hooks.append(air.boot)
    return air  # type: ignore[return-value]
