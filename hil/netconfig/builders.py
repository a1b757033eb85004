"""Builders for every connection file of the networking doc.

Each returns a `Keyfile` laid out as the doc's example (sections in the same
order, NetworkManager's aliases `wifi`/`wifi-security`/`ethernet`), already
validated: a builder never returns a file NetworkManager would refuse, it
raises `BuildError` naming the option and what was expected (never a secret).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from hil.errors import ConfigError
from hil.netconfig.keyfile import Keyfile, Value
from hil.netconfig.validate import validate


class BuildError(ConfigError):
    """The options cannot make a valid connection file."""


@dataclass(frozen=True)
class StaticIP:
    """`address1=ADDRESS/PREFIX,GATEWAY` plus `dns=`, as in the doc's static IP examples."""

    address: str  # "192.168.1.111/24"
    gateway: str | None = None  # "192.168.1.1"
    dns: Sequence[str] = field(default_factory=tuple)  # ("8.8.8.8", "8.8.4.4")

    def ipv4(self) -> dict[str, Value | None]:
        try:
            iface = ipaddress.IPv4Interface(self.address)
        except ValueError:
            raise BuildError(
                f"static address {self.address!r}: expected IPv4 ADDRESS/PREFIX "
                "like 192.168.1.111/24"
            ) from None
        if "/" not in self.address:
            raise BuildError(f"static address {self.address!r}: give the prefix, like /24")
        value = f"{iface.ip}/{iface.network.prefixlen}"
        if self.gateway:
            value += f",{self.gateway}"
        return {
            "address1": value,
            "dns": list(self.dns) if self.dns else None,
            "dns-search": "",
            "method": "manual",
        }


def _finish(kf: Keyfile, what: str) -> Keyfile:
    report = validate(kf, f"{what}.nmconnection")
    if not report.valid:
        raise BuildError(f"{what}: " + "; ".join(str(i) for i in report.errors))
    return kf


def _ipv6(addr_gen_mode: bool = True) -> dict[str, Value | None]:
    return {"addr-gen-mode": "stable-privacy" if addr_gen_mode else None, "method": "auto"}


def wifi(
    ssid: str,
    psk: str | None = None,
    *,
    id: str = "balena-wifi",
    hidden: bool = False,
    priority: int | None = None,
    interface: str | None = None,
    static: StaticIP | None = None,
) -> Keyfile:
    """WiFi with WPA-PSK (the doc's `resin-wifi`), or an open network when `psk` is None.

    `priority` is `autoconnect-priority` (higher wins when several networks are in range).
    """
    sections: dict[str, dict[str, Value | None]] = {
        "connection": {
            "id": id,
            "type": "wifi",
            "autoconnect-priority": priority,
            "interface-name": interface,
        },
        "wifi": {"hidden": True if hidden else None, "mode": "infrastructure", "ssid": ssid},
        "ipv4": static.ipv4() if static else {"method": "auto"},
        "ipv6": _ipv6(),
    }
    if psk is not None:
        sections["wifi-security"] = {"auth-alg": "open", "key-mgmt": "wpa-psk", "psk": psk}
    return _finish(Keyfile.from_sections(sections), id)


def ethernet(
    *,
    id: str = "my-ethernet",
    interface: str = "eth0",
    never_default: bool = False,
    route_metric: int | None = None,
    static: StaticIP | None = None,
) -> Keyfile:
    """Ethernet: DHCP, static (`static=`), or not the default route (the doc's
    `never-default=true` + `route-metric=2000`, so WiFi carries the traffic)."""
    if static is not None:
        ipv4 = static.ipv4()
        if never_default:
            ipv4["never-default"] = True
    else:
        ipv4 = {
            "never-default": True if never_default else None,
            "route-metric": route_metric
            if route_metric is not None
            else (2000 if never_default else None),
            "dns-search": "",
            "ignore-auto-routes": True if never_default else None,
            "method": "auto",
        }
    if static is not None and route_metric is not None:
        ipv4["route-metric"] = route_metric
    kf = Keyfile.from_sections(
        {
            "connection": {
                "id": id,
                "type": "ethernet",
                "interface-name": interface,
                "permissions": "",
                "secondaries": "",
            },
            "ethernet": {"mac-address-blacklist": ""},
            "ipv4": ipv4,
            "ipv6": {"addr-gen-mode": "stable-privacy", "dns-search": "", "method": "auto"},
        }
    )
    return _finish(kf, id)


def wpa2_enterprise(
    ssid: str,
    identity: str,
    password: str,
    *,
    id: str = "balena-wifi",
    eap: str = "peap",
    phase2_auth: str = "mschapv2",
    ca_cert: str | None = None,
    anonymous_identity: str | None = None,
) -> Keyfile:
    """WPA2-Enterprise (the doc's PEAP/MSCHAPv2 example; `eap="ttls"` works the same)."""
    x8021: dict[str, Value | None] = {
        "eap": [eap],
        "identity": identity,
        "anonymous-identity": anonymous_identity,
        "ca-cert": ca_cert,
        "phase2-auth": phase2_auth,
        "password": password,
    }
    if ca_cert is not None:
        x8021["private-key-password-flags"] = 1
        x8021["phase2-private-key-password-flags"] = 1
    kf = Keyfile.from_sections(
        {
            "connection": {"id": id, "type": "wifi"},
            "wifi": {"ssid": ssid, "mode": "infrastructure"},
            "wifi-security": {"key-mgmt": "wpa-eap"},
            "802-1x": x8021,
            "ipv4": {"method": "auto"},
            "ipv6": {"method": "auto"},
        }
    )
    return _finish(kf, id)


def eduroam(identity: str, password: str, ca_cert: str, *, id: str = "eduroam") -> Keyfile:
    """The doc's eduroam example: PEAP/MSCHAPv2 to SSID `eduroam` with the institution's CA."""
    return wpa2_enterprise("eduroam", identity, password, id=id, ca_cert=ca_cert)


def hotspot(
    ssid: str,
    psk: str,
    *,
    id: str = "balena-hotspot",
    interface: str = "wlan0",
    band: str = "bg",
    wpa2: bool = True,
    uuid: str | None = None,
) -> Keyfile:
    """The doc's hotspot: `mode=ap`, `ipv4.method=shared`, WPA2 (`proto=rsn`) or WPA (`proto=`)."""
    kf = Keyfile.from_sections(
        {
            "connection": {
                "id": id,
                "uuid": uuid,
                "type": "wifi",
                "autoconnect": False,
                "interface-name": interface,
                "permissions": "",
                "secondaries": "",
            },
            "wifi": {
                "band": band,
                "mac-address-blacklist": "",
                "mac-address-randomization": 0,
                "mode": "ap",
                "seen-bssids": "",
                "ssid": ssid,
            },
            "wifi-security": {
                "group": "",
                "key-mgmt": "wpa-psk",
                "pairwise": "",
                "proto": "rsn" if wpa2 else "",
                "psk": psk,
            },
            "ipv4": {"dns-search": "", "method": "shared"},
            "ipv6": {"addr-gen-mode": "stable-privacy", "dns-search": "", "method": "auto"},
        }
    )
    return _finish(kf, id)


def gsm(
    apn: str,
    *,
    id: str = "cellular",
    number: str | None = "*99#",
    username: str | None = None,
    password: str | None = None,
    pin: str | None = None,
    baud: int | None = 115200,
    autoconnect: bool = True,
    device_id: str | None = None,
) -> Keyfile:
    """The doc's cellular example: `[gsm]` apn/number/username/password, `[serial] baud`;
    `device_id` ties it to one modem (ModemManager's device identifier) on a board
    with several."""
    sections: dict[str, dict[str, Value | None]] = {
        "connection": {"id": id, "type": "gsm", "autoconnect": autoconnect},
        "gsm": {
            "apn": apn,
            "device-id": device_id,
            "number": number,
            "password": password,
            "pin": pin,
            "username": username,
        },
    }
    if baud is not None:
        sections["serial"] = {"baud": baud}
    sections["ipv4"] = {"method": "auto"}
    sections["ipv6"] = _ipv6()
    return _finish(Keyfile.from_sections(sections), id)


#: What `hil keyfile new KIND` offers.
KINDS = ("wifi", "ethernet", "enterprise", "eduroam", "hotspot", "gsm")
