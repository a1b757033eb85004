"""Network devices of the simulated board, and how each one links up.

A device answers two questions for the NetworkManager model: can this profile
link up on me (and if not, NetworkManager's reason), and what IP
configuration does the network hand out. Later layers add device types
(a modem's `wwan0`) through `NetworkManager.add_device`.
"""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hil.lab.models import SimNetwork
from hil.sim.nm.profiles import Profile

if TYPE_CHECKING:
    from hil.sim.world import World

#: NetworkManager's default route metrics per device type
DEFAULT_METRIC = {"ethernet": 100, "wifi": 600, "gsm": 700}


@dataclass
class LinkOutcome:
    ok: bool
    #: NetworkManager's wording, as `nmcli connection up` prints it
    reason: str = ""
    #: world seconds the attempt takes before it succeeds or fails
    seconds: float = 1.0
    #: the device state it fails in (need-auth, config, ...)
    fail_state: int = 50


@dataclass
class IpConfig:
    address: str  # "192.168.88.57/24"
    gateway: str | None
    dns: list[str] = field(default_factory=list)
    method: str = "auto"
    #: extra addresses (address2=..., ...)
    more: list[str] = field(default_factory=list)

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(self.address)


def host_number(seed: str, low: int = 50, high: int = 199) -> int:
    """A stable host part for DHCP leases, derived from the board's name."""
    return low + zlib.crc32(seed.encode()) % (high - low)


class Device:
    type = "generic"

    def __init__(self, world: World, name: str, mac: str) -> None:
        self.world = world
        self.name = name
        self.mac = mac
        #: the kernel interface IP runs over (a modem's `wwan0` for its `cdc-wdm0`)
        self.ip_iface = name

    def available(self) -> bool:
        return True

    def matches(self, profile: Profile) -> bool:
        if profile.type != self.type:
            return False
        return profile.interface_name in (None, self.name)

    def can_autoconnect(self, profile: Profile) -> bool:
        return self.matches(profile)

    def link(self, profile: Profile) -> LinkOutcome:
        return LinkOutcome(True, seconds=0.5)

    def still_linked(self, profile: Profile) -> str | None:
        """None while the link holds; else NetworkManager's reason for dropping it."""
        return None

    def lease(self, profile: Profile) -> IpConfig | None:
        """What the network's DHCP server hands out, or None when nobody answers."""
        return None


class EthernetDevice(Device):
    type = "ethernet"
    subnet = ipaddress.IPv4Network("192.168.88.0/24")

    def lease(self, profile: Profile) -> IpConfig | None:
        if self.world.fault("dhcp-timeout"):
            return None
        host = self.subnet.network_address + host_number(self.world.hostname)
        gw = str(self.subnet.network_address + 1)
        return IpConfig(f"{host}/{self.subnet.prefixlen}", gw, dns=[gw])


class WifiDevice(Device):
    type = "wifi"

    def __init__(self, world: World, name: str, mac: str) -> None:
        super().__init__(world, name, mac)
        self.radio_on = True

    def available(self) -> bool:
        return self.radio_on

    # -- the air -------------------------------------------------------
    def networks(self) -> list[SimNetwork]:
        """Access points in range and beaconing."""
        if self.world.fault("ap-down"):
            return []
        return list(self.world.spec.networks)

    def visible(self) -> list[SimNetwork]:
        """What a scan shows: hidden networks have no SSID in their beacons."""
        return [n for n in self.networks() if not n.hidden]

    def find(self, ssid: str | None, hidden: bool) -> SimNetwork | None:
        for n in self.networks():
            if n.ssid != ssid:
                continue
            if n.hidden and (not hidden or self.world.fault("hidden-ssid-not-broadcast")):
                continue  # found only by a directed probe, and only if it answers
            return n
        return None

    def index(self, network: SimNetwork) -> int:
        return [n.ssid for n in self.world.spec.networks].index(network.ssid)

    def bssid(self, network: SimNetwork) -> str:
        if network.bssid:
            return network.bssid.upper()
        h = zlib.crc32(network.ssid.encode())
        return "02:00:" + ":".join(f"{(h >> s) & 0xFF:02X}" for s in (24, 16, 8, 0))

    # -- linking -------------------------------------------------------
    def can_autoconnect(self, profile: Profile) -> bool:
        if not self.matches(profile):
            return False
        if profile.wifi_mode == "ap":
            return True
        return self.find(profile.ssid, profile.get_bool("wifi", "hidden", False)) is not None

    def link(self, profile: Profile) -> LinkOutcome:
        if profile.wifi_mode == "ap":
            return LinkOutcome(True, seconds=1.0)
        net = self.find(profile.ssid, profile.get_bool("wifi", "hidden", False))
        if net is None:
            return LinkOutcome(
                False, "The Wi-Fi network could not be found", seconds=10, fail_state=40
            )
        key_mgmt = profile.get("wifi-security", "key-mgmt")
        if net.security == "none":
            if key_mgmt not in (None, "", "none"):
                return LinkOutcome(
                    False, "The Wi-Fi network could not be found", seconds=10, fail_state=40
                )
            return LinkOutcome(True, seconds=1.0)
        if key_mgmt in (None, "", "none"):
            return LinkOutcome(
                False, "Secrets were required, but not provided", seconds=2, fail_state=60
            )
        if net.security == "wpa-psk":
            good = profile.get("wifi-security", "psk") == net.psk and not self.world.fault(
                "wrong-psk"
            )
            if key_mgmt != "wpa-psk" or not good:
                return LinkOutcome(
                    False, "Secrets were required, but not provided", seconds=8, fail_state=60
                )
            return LinkOutcome(True, seconds=2.0)
        # wpa-eap
        if key_mgmt != "wpa-eap":
            return LinkOutcome(
                False, "Secrets were required, but not provided", seconds=8, fail_state=60
            )
        return self._eap(profile, net)

    def _eap(self, profile: Profile, net: SimNetwork) -> LinkOutcome:
        fail = LinkOutcome(False, "802.1X supplicant failed", seconds=12, fail_state=50)
        methods = [m for m in (profile.get("802-1x", "eap") or "").split(";") if m]
        ca_cert = profile.get("802-1x", "ca-cert")
        if ca_cert and not self.world.fs.exists(ca_cert.removeprefix("file://")):
            return fail
        if self.world.fault("enterprise-auth-fails"):
            return fail
        ok = (
            (net.eap or "peap") in methods
            and profile.get("802-1x", "identity") == net.identity
            and profile.get("802-1x", "password") == net.password
        )
        return LinkOutcome(True, seconds=3.0) if ok else fail

    def still_linked(self, profile: Profile) -> str | None:
        if profile.wifi_mode == "ap":
            return None
        if self.find(profile.ssid, profile.get_bool("wifi", "hidden", False)) is None:
            return "The Wi-Fi network could not be found"
        return None

    def lease(self, profile: Profile) -> IpConfig | None:
        if self.world.fault("dhcp-timeout"):
            return None
        net = self.find(profile.ssid, profile.get_bool("wifi", "hidden", False))
        if net is None:
            return None
        subnet = ipaddress.IPv4Network(f"192.168.{100 + self.index(net)}.0/24")
        host = subnet.network_address + host_number(self.world.hostname + net.ssid)
        gw = str(subnet.network_address + 1)
        return IpConfig(f"{host}/24", gw, dns=[gw])
