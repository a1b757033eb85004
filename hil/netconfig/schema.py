"""Which keys NetworkManager reads in each setting, and as what type.

The property tables of the NetworkManager settings reference (nm-settings-
keyfile(5), libnm 1.42) for the settings a balenaOS connection file uses. The
kind says how the keyfile reader parses the value; a value it cannot parse is
dropped with a warning, and for `hil` that is an error. Numeric ranges are
those of the GObject properties (a value outside is dropped too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "str",  # g_key_file_get_string
    "bool",  # g_key_file_get_boolean: true/false/1/0
    "int",  # strtoll base 0 (0x.. hex, 0.. octal), within [lo, hi]
    "strv",  # ;-separated list
    "mac",  # aa:bb:cc:dd:ee:ff (or the legacy list of 6 integers)
    "cloned-mac",  # a MAC or preserve/permanent/random/stable
    "ssid",  # a string, or the legacy list of byte values (104;105;108;)
    "cert",  # an absolute path, file:// URI, pkcs11: URI or data:;base64,
    "bytes",  # a string or a list of byte values
    "dns",  # ;-separated IP addresses of the setting's family
    "addr-gen-mode",  # eui64 | stable-privacy | default-or-eui64 | default
    "parity",  # n/e/o (any case), their ASCII codes, or 0..2
    "type",  # a setting name or alias
    "skipped",  # NetworkManager never reads it from a keyfile
]

I32 = (-(2**31), 2**31 - 1)
U32 = (0, 2**32 - 1)
SECRET_FLAGS = (0, 7)  # agent-owned 1 | not-saved 2 | not-required 4


@dataclass(frozen=True)
class Prop:
    kind: Kind
    lo: int | None = None
    hi: int | None = None
    choices: tuple[str, ...] | tuple[int, ...] | None = None
    secret: bool = False


def _s(choices: tuple[str, ...] | None = None, secret: bool = False) -> Prop:
    return Prop("str", choices=choices, secret=secret)


def _i(lo: int, hi: int, choices: tuple[int, ...] | None = None) -> Prop:
    return Prop("int", lo, hi, choices)


def _u(hi: int = U32[1], lo: int = 0) -> Prop:
    return Prop("int", lo, hi)


STR, BOOL, STRV = _s(), Prop("bool"), Prop("strv")
SECRET = _s(secret=True)
FLAGS = _i(*SECRET_FLAGS)
TERNARY = _i(*I32, choices=(-1, 0, 1))
CERT = Prop("cert")

IP4_METHODS = ("auto", "link-local", "manual", "shared", "disabled")
IP6_METHODS = ("ignore", "auto", "dhcp", "link-local", "manual", "shared", "disabled")
KEY_MGMT = ("none", "ieee8021x", "wpa-psk", "wpa-eap", "wpa-eap-suite-b-192", "sae", "owe")
EAP_METHODS = ("leap", "md5", "tls", "peap", "ttls", "sim", "fast", "pwd", "external")
PHASE2_AUTH = ("pap", "chap", "mschap", "mschapv2", "gtc", "otp", "md5", "tls")
PHASE2_AUTHEAP = ("md5", "mschapv2", "otp", "gtc", "tls")
WIFI_MODES = ("infrastructure", "adhoc", "ap", "mesh")
WIFI_BANDS = ("a", "bg")

_IP_COMMON: dict[str, Prop] = {
    "dns": Prop("dns"),
    "dns-search": STRV,
    "dns-options": STRV,
    "dns-priority": _i(*I32),
    "gateway": STR,
    "route-metric": _i(-1, U32[1]),
    "route-table": _u(),
    "ignore-auto-routes": BOOL,
    "ignore-auto-dns": BOOL,
    "dhcp-hostname": STR,
    "dhcp-hostname-flags": _u(),
    "dhcp-send-hostname": BOOL,
    "never-default": BOOL,
    "may-fail": BOOL,
    "dad-timeout": _i(-1, 30000),
    "dhcp-timeout": _i(0, I32[1]),
    "required-timeout": _i(-1, I32[1]),
    "dhcp-iaid": STR,
    "dhcp-reject-servers": STRV,
    "auto-route-ext-gw": TERNARY,
    "replace-local-rule": TERNARY,
}

SCHEMA: dict[str, dict[str, Prop]] = {
    "connection": {
        "id": STR,
        "uuid": STR,
        "interface-name": STR,
        "type": Prop("type"),
        "permissions": STRV,
        "autoconnect": BOOL,
        "autoconnect-priority": _i(-999, 999),
        "autoconnect-retries": _i(-1, I32[1]),
        "multi-connect": _i(*I32, choices=(0, 1, 2, 3)),
        "timestamp": _u(2**64 - 1),
        "read-only": Prop("skipped"),
        "zone": STR,
        "master": STR,
        "slave-type": STR,
        "autoconnect-slaves": TERNARY,
        "secondaries": STRV,
        "gateway-ping-timeout": _u(600),
        "metered": _i(*I32, choices=(0, 1, 2)),
        "lldp": _i(*I32, choices=(-1, 0, 1)),
        "mdns": _i(*I32, choices=(-1, 0, 1, 2)),
        "llmnr": _i(*I32, choices=(-1, 0, 1, 2)),
        "dns-over-tls": _i(*I32, choices=(-1, 0, 1, 2)),
        "mptcp-flags": _u(),
        "stable-id": STR,
        "auth-retries": _i(-1, I32[1]),
        "wait-device-timeout": _i(-1, I32[1]),
        "mud-url": STR,
        "wait-activation-delay": _i(-1, I32[1]),
    },
    "802-11-wireless": {
        "ssid": Prop("ssid"),
        "mode": _s(WIFI_MODES),
        "band": _s(WIFI_BANDS),
        "channel": _u(),
        "bssid": Prop("mac"),
        "rate": _u(),
        "tx-power": _u(),
        "mac-address": Prop("mac"),
        "cloned-mac-address": Prop("cloned-mac"),
        "generate-mac-address-mask": STR,
        "mac-address-blacklist": STRV,
        "mtu": _u(),
        "seen-bssids": Prop("skipped"),
        "hidden": BOOL,
        "powersave": _u(),
        "mac-address-randomization": _u(),
        "wake-on-wlan": _u(),
        "ap-isolation": TERNARY,
    },
    "802-11-wireless-security": {
        "key-mgmt": _s(KEY_MGMT),
        "wep-tx-keyidx": _u(3),
        "auth-alg": _s(("open", "shared", "leap")),
        "proto": STRV,
        "pairwise": STRV,
        "group": STRV,
        "pmf": _i(*I32, choices=(0, 1, 2, 3)),
        "leap-username": STR,
        "wep-key0": SECRET,
        "wep-key1": SECRET,
        "wep-key2": SECRET,
        "wep-key3": SECRET,
        "wep-key-flags": FLAGS,
        "wep-key-type": _i(*I32, choices=(0, 1, 2)),
        "psk": SECRET,
        "psk-flags": FLAGS,
        "leap-password": SECRET,
        "leap-password-flags": FLAGS,
        "wps-method": _u(),
        "fils": _i(*I32, choices=(0, 1, 2, 3)),
    },
    "802-1x": {
        "eap": STRV,
        "identity": STR,
        "anonymous-identity": STR,
        "pac-file": STR,
        "ca-cert": CERT,
        "ca-cert-password": SECRET,
        "ca-cert-password-flags": FLAGS,
        "ca-path": STR,
        "subject-match": STR,
        "altsubject-matches": STRV,
        "domain-suffix-match": STR,
        "domain-match": STR,
        "client-cert": CERT,
        "client-cert-password": SECRET,
        "client-cert-password-flags": FLAGS,
        "phase1-peapver": _s(("0", "1")),
        "phase1-peaplabel": _s(("0", "1")),
        "phase1-fast-provisioning": _s(("0", "1", "2", "3")),
        "phase1-auth-flags": _u(),
        "phase2-auth": _s(PHASE2_AUTH),
        "phase2-autheap": _s(PHASE2_AUTHEAP),
        "phase2-ca-cert": CERT,
        "phase2-ca-cert-password": SECRET,
        "phase2-ca-cert-password-flags": FLAGS,
        "phase2-ca-path": STR,
        "phase2-subject-match": STR,
        "phase2-altsubject-matches": STRV,
        "phase2-domain-suffix-match": STR,
        "phase2-domain-match": STR,
        "phase2-client-cert": CERT,
        "phase2-client-cert-password": SECRET,
        "phase2-client-cert-password-flags": FLAGS,
        "password": SECRET,
        "password-flags": FLAGS,
        "password-raw": Prop("bytes", secret=True),
        "password-raw-flags": FLAGS,
        "private-key": CERT,
        "private-key-password": SECRET,
        "private-key-password-flags": FLAGS,
        "phase2-private-key": CERT,
        "phase2-private-key-password": SECRET,
        "phase2-private-key-password-flags": FLAGS,
        "pin": SECRET,
        "pin-flags": FLAGS,
        "system-ca-certs": BOOL,
        "optional": BOOL,
        "auth-timeout": _i(0, I32[1]),
    },
    "gsm": {
        "auto-config": BOOL,
        "number": STR,
        "username": STR,
        "password": SECRET,
        "password-flags": FLAGS,
        "apn": STR,
        "network-id": STR,
        "pin": SECRET,
        "pin-flags": FLAGS,
        "home-only": BOOL,
        "device-id": STR,
        "sim-id": STR,
        "sim-operator-id": STR,
        "mtu": _u(),
    },
    "serial": {
        "baud": _u(),
        "bits": _u(8, lo=5),
        "parity": Prop("parity"),
        "stopbits": _u(2, lo=1),
        "send-delay": _u(2**64 - 1),
    },
    "ppp": {
        **{
            k: BOOL
            for k in (
                "noauth",
                "refuse-eap",
                "refuse-pap",
                "refuse-chap",
                "refuse-mschap",
                "refuse-mschapv2",
                "nobsdcomp",
                "nodeflate",
                "no-vj-comp",
                "require-mppe",
                "require-mppe-128",
                "mppe-stateful",
                "crtscts",
            )
        },
        "baud": _u(),
        "mru": _u(16384),
        "mtu": _u(),
        "lcp-echo-failure": _u(),
        "lcp-echo-interval": _u(),
    },
    "802-3-ethernet": {
        "port": STR,
        "speed": _u(),
        "duplex": _s(("half", "full")),
        "auto-negotiate": BOOL,
        "mac-address": Prop("mac"),
        "cloned-mac-address": Prop("cloned-mac"),
        "generate-mac-address-mask": STR,
        "mac-address-blacklist": STRV,
        "mtu": _u(),
        "s390-subchannels": STRV,
        "s390-nettype": STR,
        "wake-on-lan": _u(),
        "wake-on-lan-password": STR,
        "accept-all-mac-addresses": TERNARY,
    },
    "ipv4": {
        "method": _s(IP4_METHODS),
        **_IP_COMMON,
        "dhcp-client-id": STR,
        "dhcp-fqdn": STR,
        "dhcp-vendor-class-identifier": STR,
        "link-local": _i(*I32, choices=(0, 1, 2, 3)),
    },
    "ipv6": {
        "method": _s(IP6_METHODS),
        **_IP_COMMON,
        "ip6-privacy": _i(*I32, choices=(-1, 0, 1, 2)),
        "addr-gen-mode": Prop("addr-gen-mode"),
        "token": STR,
        "dhcp-duid": STR,
        "ra-timeout": _i(0, I32[1]),
        "mtu": _u(),
    },
    "proxy": {
        "method": _i(*I32, choices=(0, 1)),
        "browser-only": BOOL,
        "pac-url": STR,
        "pac-script": STR,
    },
}

#: Keys of old NetworkManager versions that today's ignores, with what to say about them.
LEGACY_KEYS: dict[tuple[str, str], str] = {
    ("802-11-wireless", "security"): (
        "legacy key, ignored by NetworkManager (the [wifi-security] section alone "
        "decides the security)"
    ),
}

#: Every setting NetworkManager knows (names only): sections `hil` does not
#: check in depth but that are not typos either.
OTHER_NM_SETTINGS = frozenset(
    {
        "6lowpan", "802-11-olpc-mesh", "adsl", "bluetooth", "bond", "bond-port", "bridge",
        "bridge-port", "cdma", "dcb", "dummy", "ethtool", "generic", "hostname", "infiniband",
        "ip-tunnel", "link", "loopback", "macsec", "macvlan", "match", "ovs-bridge", "ovs-dpdk",
        "ovs-external-ids", "ovs-interface", "ovs-other-config", "ovs-patch", "ovs-port",
        "pppoe", "sriov", "tc", "team", "team-port", "tun", "user", "veth", "vlan", "vpn",
        "vrf", "vxlan", "wifi-p2p", "wimax", "wireguard", "wpan",
    }
)  # fmt: skip

#: Groups NetworkManager's reader passes over on purpose.
PASSIVE_GROUPS = frozenset({".nmmeta", "ethernet-s390-options", "vpn-secrets"})

#: Connection types (base settings) a balenaOS board uses, and what else may be a type.
BASE_TYPES = frozenset({"802-11-wireless", "802-3-ethernet", "gsm"})
OTHER_BASE_TYPES = frozenset(
    {
        "6lowpan", "802-11-olpc-mesh", "adsl", "bluetooth", "bond", "bridge", "cdma", "dummy",
        "generic", "infiniband", "ip-tunnel", "loopback", "macsec", "macvlan", "ovs-bridge",
        "ovs-interface", "ovs-port", "pppoe", "team", "tun", "veth", "vlan", "vpn", "vrf",
        "vxlan", "wifi-p2p", "wimax", "wireguard", "wpan",
    }
)  # fmt: skip

#: 5 GHz ("a") channels NetworkManager accepts (nm_utils_wifi_is_channel_valid).
A_BAND_CHANNELS = frozenset(
    {
        7, 8, 9, 11, 12, 16, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 56, 58, 60, 64, 100, 104,
        108, 112, 116, 120, 124, 128, 132, 136, 140, 149, 152, 153, 157, 160, 161, 165, 183,
        184, 185, 187, 188, 192, 196,
    }
)  # fmt: skip
BG_BAND_CHANNELS = frozenset(range(1, 15))


def prop(setting: str, key: str) -> Prop | None:
    """The property `key` of `setting`, or None if NetworkManager does not read it."""
    return SCHEMA.get(setting, {}).get(key)
