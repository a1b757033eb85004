"""Network devices of the simulated board, and how each one links up.

A device answers two questions for the NetworkManager model: can this profile
link up on me (and if not, NetworkManager's reason), and what IP
configuration does the network hand out. Later layers add device types
(a modem's `wwan0`) through `NetworkManager.add_device`.
"""

from __future__ import annotations

import base64
import ipaddress
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hil.lab.models import SimNetwork
from hil.sim.nm.profiles import Profile
from hil.sim.wifi import Association, air_of, pem_fingerprint, same_fingerprint

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

    def static_address_in_use(self, address: str) -> bool:
        """NetworkManager's IPv4 duplicate-address detection: another host answers ARP
        for the static address."""
        return self.world.fault("static-ip-conflict")


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
    """wlan0: a station that joins the lab's APs, or an AP itself (`mode=ap`)."""

    type = "wifi"

    def __init__(self, world: World, name: str, mac: str) -> None:
        super().__init__(world, name, mac)
        self.radio_on = True
        self.air = air_of(world)

    def available(self) -> bool:
        return self.radio_on

    # -- the air -------------------------------------------------------
    def networks(self) -> list[SimNetwork]:
        """Access points in range and beaconing."""
        if self.world.fault("ap-down"):
            return []
        preferred = preferred_ssid(self.world)
        down = preferred if self.world.fault("preferred-ap-down") else None
        return [n for n in self.world.spec.networks if n.ssid != down]

    def visible(self) -> list[SimNetwork]:
        """What a scan shows: hidden networks have no SSID in their beacons, and
        nothing is heard on channels the regulatory domain disables."""
        reg = self.air.regulatory
        return [n for n in self.networks() if not n.hidden and not reg.channel(n.channel).disabled]

    def find(self, ssid: str | None, hidden: bool) -> SimNetwork | None:
        reg = self.air.regulatory
        for n in self.networks():
            if n.ssid != ssid:
                continue
            if n.hidden and (not hidden or self.world.fault("hidden-ssid-not-broadcast")):
                continue  # found only by a directed probe, and only if it answers
            if not reg.station_can_join(n.channel, hidden=n.hidden):
                continue  # the domain disables the channel, or forbids probing on it
            return n
        return None

    def index(self, network: SimNetwork) -> int:
        return [n.ssid for n in self.world.spec.networks].index(network.ssid)

    def bssid(self, network: SimNetwork) -> str:
        if network.bssid:
            return network.bssid.upper()
        h = zlib.crc32(network.ssid.encode())
        return "02:00:" + ":".join(f"{(h >> s) & 0xFF:02X}" for s in (24, 16, 8, 0))

    def association(self) -> Association | None:
        """What this radio does on the air now: joined to an AP, serving one, or nothing."""
        st = self.world.nm.devices.get(self.name)
        if st is None or st.activation is None or int(st.state) != 100:
            return None
        profile = st.activation.profile
        if profile.wifi_mode == "ap":
            return Association("AP", profile.ssid or "", ap_channel(profile), self.mac.upper())
        net = self.find(profile.ssid, profile.get_bool("wifi", "hidden", False))
        if net is None:
            return None
        return Association("managed", net.ssid, net.channel, self.bssid(net), net.signal)

    # -- linking -------------------------------------------------------
    def can_autoconnect(self, profile: Profile) -> bool:
        if not self.matches(profile):
            return False
        if profile.wifi_mode == "ap":
            return True
        return self.find(profile.ssid, profile.get_bool("wifi", "hidden", False)) is not None

    def link(self, profile: Profile) -> LinkOutcome:
        if profile.wifi_mode == "ap":
            if not self.air.regulatory.ap_allowed(ap_channel(profile)):
                return LinkOutcome(False, "802.1X supplicant failed", seconds=5, fail_state=50)
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
        """PEAP/MSCHAPv2 against the lab's RADIUS server (as wpa_supplicant sees it)."""
        fail = LinkOutcome(False, "802.1X supplicant failed", seconds=12, fail_state=50)
        methods = [m for m in (profile.get("802-1x", "eap") or "").split(";") if m]
        if (net.eap or "peap") not in methods:
            return fail
        ca_cert = profile.get("802-1x", "ca-cert")
        if ca_cert:
            # the supplicant checks the server's certificate against this CA
            if self.world.fault("ca-cert-mismatch"):
                return fail
            pem = self._ca_pem(ca_cert)
            if pem is None:
                return fail  # NetworkManager cannot read the file: the supplicant fails
            if net.ca_fingerprint and not same_fingerprint(
                pem_fingerprint(pem), net.ca_fingerprint
            ):
                return fail
        if self.world.fault("enterprise-auth-fails"):
            return fail
        phase2 = profile.get("802-1x", "phase2-auth")
        ok = (
            phase2 in (None, "", "mschapv2")
            and profile.get("802-1x", "identity") == net.identity
            and profile.get("802-1x", "password") == net.password
        )
        return LinkOutcome(True, seconds=3.0) if ok else fail

    def _ca_pem(self, value: str) -> str | None:
        """The CA a profile's `ca-cert` names: a path (`file://` optional) or a
        `data:;base64,` blob, as NetworkManager's keyfile accepts them."""
        if value.startswith("data:;base64,"):
            try:
                return base64.b64decode(value.removeprefix("data:;base64,")).decode()
            except (ValueError, UnicodeDecodeError):
                return None
        path = value.removeprefix("file://")
        return self.world.fs.read_text(path) if self.world.fs.isfile(path) else None

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
        # a lease without the router option: an address, but no default route
        router = None if self.world.fault("dhcp-no-router") else gw
        return IpConfig(f"{host}/24", router, dns=[gw])


def ap_channel(profile: Profile) -> int:
    """The channel a `mode=ap` profile serves on (NetworkManager: 1 for bg, 36 for a)."""
    channel = profile.get_int("wifi", "channel", 0)
    if channel:
        return channel
    return 36 if profile.get("wifi", "band") == "a" else 1


def preferred_ssid(world: World) -> str | None:
    """The SSID of the board's preferred lab network: the `wifi:` entry with the highest
    `priority` (the one the failover test and the `preferred-ap-down` fault are about)."""
    ranked = [w for w in world.board.wifi if w.priority is not None]
    if not ranked:
        return None
    return max(ranked, key=lambda w: w.priority or 0).ssid
