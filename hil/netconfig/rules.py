"""The rules of each setting: what NetworkManager's verify refuses, and the doc's.

Called with the values as NetworkManager would load them (`Checker.values`).
Rules follow libnm 1.42's `verify()`/`verify_secrets()` of each setting and
its normalization; where a balenaOS board cannot do what libnm would allow
(it has no secret agent to ask for a missing psk or password, so such a
connection never comes up) or where NetworkManager would silently change the
file's meaning (a gateway with never-default=true is dropped), `hil` is
stricter and says so in the message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hil.netconfig.keyfile import ALIAS_FOR_SETTING, SECTION_ALIASES
from hil.netconfig.schema import (
    A_BAND_CHANNELS,
    BASE_TYPES,
    BG_BAND_CHANNELS,
    EAP_METHODS,
    OTHER_BASE_TYPES,
    SCHEMA,
)
from hil.netconfig.values import Bytes, Cert, is_mac, parse_ip

if TYPE_CHECKING:
    from hil.netconfig.validate import Checker

NO_AGENT = "a balenaOS board has no secret agent to ask for it, so the connection never comes up"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UUID_PLAIN = re.compile(r"[0-9a-fA-F]{32}")


def verify(c: Checker) -> None:
    check_choices(c)
    ctype = verify_connection(c)
    if ctype == "802-11-wireless" or "802-11-wireless" in c.settings:
        verify_wireless(c, ctype)
    if "802-11-wireless-security" in c.settings:
        verify_wireless_security(c)
    if "802-1x" in c.settings:
        verify_8021x(c, ctype)
    if "gsm" in c.settings:
        verify_gsm(c)
    if "802-3-ethernet" in c.settings:
        verify_wired(c)
    for setting in ("ipv4", "ipv6"):
        if setting in c.settings:
            verify_ip(c, setting)
    if "proxy" in c.settings:
        verify_proxy(c)
    verify_doc_rules(c, ctype)


def check_choices(c: Checker) -> None:
    """Enumerated values (mode=, key-mgmt=, method=, metered=, ...)."""
    for (setting, key), value in list(c.values.items()):
        prop = SCHEMA[setting].get(key)
        if prop is None or prop.choices is None:
            continue
        if value not in prop.choices:
            shown = ", ".join(str(x) for x in prop.choices)
            c.error(setting, key, f"expected one of {shown}, got {value!r}")
            c.unreadable.add((setting, key))
            del c.values[(setting, key)]


# --- [connection] ---------------------------------------------------------------------


def verify_connection(c: Checker) -> str | None:
    """Checks [connection]; returns the connection type as a setting name."""
    if "connection" not in c.settings:
        c.error("connection", None, "missing [connection] section (with id= and type=)")
    if c.present("connection", "id"):
        if c.value("connection", "id") == "":
            c.error("connection", "id", "empty; give the connection a name")
    else:
        name = c.filename.removesuffix(".nmconnection") or "the file name"
        c.warn("connection", "id", f"missing; NetworkManager names the connection {name!r}")
    uuid = c.value("connection", "uuid")
    if uuid is not None and not (_UUID.fullmatch(uuid) or _UUID_PLAIN.fullmatch(uuid)):
        c.error(
            "connection",
            "uuid",
            f"{uuid!r} is not a UUID (like 36060c57-aebd-4ccf-aba4-ef75121b5f77)",
        )
    ctype = _connection_type(c)
    ifname = c.value("connection", "interface-name")
    if ifname is not None:
        problem = _ifname_problem(ifname)
        if problem:
            c.error("connection", "interface-name", f"{ifname!r}: {problem}")
    for perm in c.value("connection", "permissions", []):
        if not re.fullmatch(r"user:[^:]+:?", perm):
            c.error("connection", "permissions", f"{perm!r}: expected user:NAME")
    return ctype


def _connection_type(c: Checker) -> str | None:
    raw = c.value("connection", "type")
    if raw is None:
        if c.present("connection", "type"):
            return None
        base = [s for s in ("802-11-wireless", "802-3-ethernet", "gsm") if s in c.settings]
        if len(base) == 1:
            c.warn(
                "connection",
                "type",
                f"missing; NetworkManager infers type={ALIAS_FOR_SETTING.get(base[0], base[0])} "
                "from the sections",
            )
            return base[0]
        c.error("connection", "type", "missing (wifi, ethernet or gsm)")
        return None
    ctype = SECTION_ALIASES.get(raw, raw)
    if raw == "":
        c.error("connection", "type", "empty (wifi, ethernet or gsm)")
        return None
    if ctype not in BASE_TYPES:
        if ctype in OTHER_BASE_TYPES:
            c.warn("connection", "type", f"hil does not check {raw} connections in depth")
        else:
            c.error(
                "connection", "type", f"{raw!r} is not a connection type (wifi, ethernet or gsm)"
            )
            return None
    if ctype == "802-11-wireless" and "802-11-wireless" not in c.settings:
        c.error("connection", "type", "type=wifi needs a [wifi] section with ssid=")
    return ctype


def _ifname_problem(name: str) -> str | None:
    if not name:
        return "empty"
    if name in (".", ".."):
        return "reserved name"
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        return "longer than 15 characters"
    if any(ch in "/:%" or ch.isspace() for ch in name):
        return "contains '/', ':', '%' or whitespace"
    return None


# --- [wifi] ------------------------------------------------------------------------------


def verify_wireless(c: Checker, ctype: str | None) -> None:
    s = "802-11-wireless"
    if s not in c.settings:
        return
    if ctype is not None and ctype != s:
        c.warn(s, None, f"a [wifi] section in a {ctype} connection is ignored")
    ssid: Bytes | None = c.value(s, "ssid")
    if ssid is None:
        if not c.present(s, "ssid"):
            c.error(s, "ssid", "missing: the name of the WiFi network is required")
    else:
        size = len(ssid.data)
        if size == 0 or size > 32:
            c.error(s, "ssid", f"must be 1 to 32 bytes, got {size} bytes")
        if ssid.from_list:
            shown = ssid.data.decode("utf-8", "replace")
            c.warn(s, "ssid", f"read as a list of byte values, i.e. the SSID {shown!r}")
    mode = c.value(s, "mode")
    band = c.value(s, "band")
    channel = c.value(s, "channel", 0)
    if channel and not band and not c.present(s, "band"):
        c.error(s, "channel", "channel= needs band= (a or bg)")
    elif channel and band:
        valid = A_BAND_CHANNELS if band == "a" else BG_BAND_CHANNELS
        if channel not in valid:
            c.error(s, "channel", f"{channel} is not a channel of band {band}")
    if mode == "mesh" and not (channel and band):
        c.error(s, "mode", "mode=mesh needs band= and channel=")
    for mac in c.value(s, "mac-address-blacklist", []):
        if not is_mac(mac):
            c.error(s, "mac-address-blacklist", f"{mac!r} is not a MAC address")
    rand = c.value(s, "mac-address-randomization")
    if rand is not None and rand not in (0, 1, 2):
        c.error(
            s,
            "mac-address-randomization",
            f"expected 0 (default), 1 (never) or 2 (always), got {rand}",
        )
    powersave = c.value(s, "powersave")
    if powersave is not None and powersave > 3:
        c.error(s, "powersave", f"expected 0 to 3, got {powersave}")
    if c.value(s, "ap-isolation", -1) != -1 and mode != "ap":
        c.error(s, "ap-isolation", "only for mode=ap")


# --- [wifi-security] ---------------------------------------------------------------------


def verify_wireless_security(c: Checker) -> None:
    s = "802-11-wireless-security"
    key_mgmt = c.value(s, "key-mgmt")
    if key_mgmt is None:
        if not c.present(s, "key-mgmt"):
            c.error(
                s,
                "key-mgmt",
                "missing (wpa-psk, sae, wpa-eap or none); for an open network remove the section",
            )
        return
    mode = c.value("802-11-wireless", "mode")
    if mode == "mesh" and key_mgmt not in ("none", "sae"):
        c.error(s, "key-mgmt", f"{key_mgmt} is not possible with mode=mesh (none or sae)")
    auth_alg = c.value(s, "auth-alg")
    if auth_alg == "leap":
        if key_mgmt != "ieee8021x":
            c.error(s, "auth-alg", "auth-alg=leap needs key-mgmt=ieee8021x")
        if not c.value(s, "leap-username"):
            c.error(s, "leap-username", "required with auth-alg=leap")
    elif key_mgmt in ("ieee8021x", "wpa-eap", "wpa-eap-suite-b-192") and "802-1x" not in c.settings:
        c.error(s, "key-mgmt", f"key-mgmt={key_mgmt} needs an [802-1x] section")
    if auth_alg == "shared" and key_mgmt != "none":
        c.error(s, "auth-alg", "auth-alg=shared is WEP only (key-mgmt=none)")
    for key, allowed in (
        ("proto", ("wpa", "rsn")),
        ("pairwise", ("tkip", "ccmp")),
        ("group", ("wep40", "wep104", "tkip", "ccmp")),
    ):
        for item in c.value(s, key, []):
            if item not in allowed:
                c.error(s, key, f"{item!r} is not one of {', '.join(allowed)}")
    pmf = c.value(s, "pmf", 0)
    if pmf in (2, 3) and key_mgmt not in (
        "wpa-eap",
        "wpa-eap-suite-b-192",
        "wpa-psk",
        "sae",
        "owe",
    ):
        c.error(s, "pmf", "optional/required PMF needs WPA key management")
    if key_mgmt in ("owe", "sae", "wpa-eap-suite-b-192") and pmf not in (0, 3):
        c.error(s, "pmf", f"key-mgmt={key_mgmt} needs pmf=0 (default) or 3 (required)")
    wep_type = c.value(s, "wep-key-type", 0)
    for i in range(4):
        key = f"wep-key{i}"
        wep = c.value(s, key)
        if wep is not None and not _wep_key_valid(wep, wep_type):
            c.error(s, key, "expected 10 or 26 hex digits or 5 or 13 characters (wep-key-type=1), "
                    "or a passphrase of 1 to 64 characters (wep-key-type=2)")  # fmt: skip
    psk = c.value(s, "psk")
    if psk is not None and key_mgmt != "sae":
        size = len(psk.encode("utf-8", "surrogateescape"))
        if not _psk_valid(psk):
            detail = (
                f"{size} characters" if size != 64 else "64 characters that are not all hex digits"
            )
            c.error(s, "psk", f"expected 8 to 63 characters or 64 hex digits, got {detail}")
    no_psk = psk is None and not c.present(s, "psk") and not c.value(s, "psk-flags", 0)
    if key_mgmt in ("wpa-psk", "sae") and no_psk:
        c.error(s, "psk", f"missing with key-mgmt={key_mgmt}: {NO_AGENT}")
    if psk == "" and key_mgmt == "sae":
        c.error(s, "psk", "empty")


def _psk_valid(psk: str) -> bool:
    size = len(psk.encode("utf-8", "surrogateescape"))
    if size < 8 or size > 64:
        return False
    return size < 64 or bool(re.fullmatch(r"[0-9a-fA-F]{64}", psk))


def _wep_key_valid(key: str, wep_type: int) -> bool:
    if wep_type == 0:
        return _wep_key_valid(key, 1) or _wep_key_valid(key, 2)
    if wep_type == 1:
        if len(key) in (10, 26):
            return bool(re.fullmatch(r"[0-9a-fA-F]+", key))
        return len(key) in (5, 13) and all(0x20 <= ord(ch) < 0x7F for ch in key)
    return 0 < len(key.encode("utf-8", "surrogateescape")) <= 64


# --- [802-1x] ------------------------------------------------------------------------------

_NEEDS_IDENTITY = ("leap", "pwd", "md5", "fast", "peap", "ttls")
_NEEDS_PASSWORD = ("leap", "pwd", "md5", "fast", "peap", "ttls")
_CERTS = (
    "ca-cert", "client-cert", "private-key", "phase2-ca-cert", "phase2-client-cert",
    "phase2-private-key",
)  # fmt: skip


def verify_8021x(c: Checker, ctype: str | None) -> None:
    s = "802-1x"
    if c.value(s, "optional") and ctype != "802-3-ethernet":
        c.error(s, "optional", "optional=true is for ethernet connections only")
    eap = c.value(s, "eap")
    if eap is None:
        if not c.present(s, "eap"):
            c.error(s, "eap", f"missing (one of {', '.join(EAP_METHODS)})")
        return
    if not eap:
        c.error(s, "eap", f"empty (one of {', '.join(EAP_METHODS)})")
    bad = [m for m in eap if m not in EAP_METHODS]
    if bad:
        c.error(
            s,
            "eap",
            f"{', '.join(map(repr, bad))}: expected EAP methods among {', '.join(EAP_METHODS)}",
        )
        return
    identity = c.value(s, "identity")
    if any(m in _NEEDS_IDENTITY for m in eap) and not identity:
        why = "empty" if identity == "" else "missing"
        c.error(s, "identity", f"{why}: eap={eap[0]} needs the user name")
    tunnelled = any(m in ("peap", "ttls") for m in eap)
    if tunnelled and c.present(s, "phase2-auth") == c.present(s, "phase2-autheap"):
        c.error(s, "phase2-auth", "eap=peap/ttls needs exactly one of phase2-auth= "
                "(e.g. mschapv2) and phase2-autheap=")  # fmt: skip
    if "tls" in eap:
        for key in ("client-cert", "private-key"):
            if not c.present(s, key):
                c.error(s, key, "missing: eap=tls needs client-cert= and private-key=")
    if any(m in _NEEDS_PASSWORD for m in eap):
        has_password = c.present(s, "password") or c.present(s, "password-raw")
        if not has_password and not c.value(s, "password-flags", 0):
            c.error(s, "password", f"missing with eap={eap[0]}: {NO_AGENT}")
    for key in ("anonymous-identity", "pac-file", "subject-match", "domain-suffix-match",
                "domain-match", "phase2-subject-match", "phase2-domain-suffix-match",
                "phase2-domain-match"):  # fmt: skip
        if c.value(s, key) == "":
            c.warn(s, key, "empty; NetworkManager removes it")
    for key in _CERTS:
        cert: Cert | None = c.value(s, key)
        if cert is None:
            continue
        password_key = f"{key}-password"
        if key.endswith(("-cert",)) and c.present(s, password_key) and cert.scheme != "pkcs11":
            c.error(s, password_key, "a certificate password is only for pkcs11: certificates")
        if cert.scheme == "guess":
            c.warn(s, key, f"{cert.value!r} is neither an absolute path nor a file name ending in "
                   ".pem/.crt/.der/...: NetworkManager reads it as a file next to the connection "
                   "file (/etc/NetworkManager/system-connections/) if one exists when it loads, "
                   "otherwise as certificate data")  # fmt: skip
        elif cert.scheme == "path" and not cert.value.startswith("/"):
            c.warn(s, key, "relative path: NetworkManager looks for it in "
                   "/etc/NetworkManager/system-connections/ on the board")  # fmt: skip


# --- [gsm] ------------------------------------------------------------------------------


def verify_gsm(c: Checker) -> None:
    s = "gsm"
    if c.value(s, "number") == "":
        c.error(s, "number", "empty; remove it or give the dial number (e.g. *99#)")
    apn = c.value(s, "apn")
    if apn is not None:
        if len(apn) > 64:
            c.error(s, "apn", f"longer than 64 characters ({len(apn)})")
        elif not re.fullmatch(r"[A-Za-z0-9._-]*", apn):
            c.error(s, "apn", f"{apn!r}: an APN has only letters, digits, '.', '_' and '-'")
    elif not c.present(s, "apn") and not c.value(s, "auto-config"):
        c.warn(s, "apn", "no apn=: the modem's default bearer settings are used")
    username = c.value(s, "username")
    if username == "":
        c.error(s, "username", "empty; remove it or give the user name")
    for key in ("network-id", "sim-operator-id"):
        value = c.value(s, key)
        if value is not None and not re.fullmatch(r"[0-9]{5,6}", value):
            c.error(s, key, f"{value!r}: expected the 5 or 6 digits of MCC+MNC")
    for key in ("device-id", "sim-id"):
        if c.value(s, key) == "":
            c.error(s, key, "empty")
    if c.value(s, "auto-config") and any(c.present(s, k) for k in ("apn", "username", "password")):
        c.warn(
            s,
            "auto-config",
            "NetworkManager turns auto-config off when apn/username/password are set",
        )
    if c.present(s, "password") and c.value(s, "password") == "":
        c.error(s, "password", "empty; remove it or give the password")
    if username and not c.present(s, "password") and not c.value(s, "password-flags", 0):
        c.error(s, "password", f"username= without password=: {NO_AGENT}")


# --- [ethernet] -----------------------------------------------------------------------------


def verify_wired(c: Checker) -> None:
    s = "802-3-ethernet"
    for mac in c.value(s, "mac-address-blacklist", []):
        if not is_mac(mac):
            c.error(s, "mac-address-blacklist", f"{mac!r} is not a MAC address")
    speed, duplex = c.value(s, "speed", 0), c.value(s, "duplex")
    if c.value(s, "auto-negotiate") is False and bool(speed) != bool(duplex):
        c.error(s, "speed", "with auto-negotiate=false, set both speed= and duplex= or neither")


# --- [ipv4] / [ipv6] ------------------------------------------------------------------------


def verify_ip(c: Checker, s: str) -> None:
    family = 4 if s == "ipv4" else 6
    method = c.value(s, "method")
    if method is None:
        if not c.present(s, "method"):
            choices = SCHEMA[s]["method"].choices or ()
            c.error(s, "method", f"missing ({', '.join(map(str, choices))})")
        return
    addresses = c.value(s, "addresses", [])
    dns = c.value(s, "dns", [])
    searches = c.value(s, "dns-search", [])
    if method == "manual" and not addresses and not c.present(s, "addresses"):
        c.error(s, "method", "method=manual needs an address (address1=IP/PREFIX,GATEWAY)")
    no_dns = (
        ("link-local", "shared", "disabled")
        if family == 4
        else ("ignore", "link-local", "disabled")
    )
    no_addr = ("link-local", "disabled") if family == 4 else ("ignore", "link-local", "disabled")
    if method in no_dns:
        if dns:
            c.error(s, "dns", f"not allowed with method={method}")
        if searches:
            c.error(s, "dns-search", f"not allowed with method={method}")
    if method in no_addr and addresses:
        c.error(s, addresses[0][1].key, f"not allowed with method={method}")
    if family == 4 and method == "shared" and len(addresses) > 1:
        c.error(
            s,
            addresses[1][1].key,
            "method=shared takes one address; NetworkManager drops the others",
        )
    gateway_key, gateway = _gateway(c, s)
    if gateway is not None:
        if not addresses and not c.present(s, "addresses"):
            c.error(s, gateway_key, "a gateway needs an address")
        elif parse_ip(gateway, family) is None:
            c.error(s, gateway_key, f"gateway {gateway!r} is not an IPv{family} address")
        if c.value(s, "never-default"):
            c.error(
                s,
                gateway_key,
                "a gateway with never-default=true: NetworkManager drops the gateway",
            )
    if c.value(s, "dhcp-hostname") == "":
        c.error(s, "dhcp-hostname", "empty")
    if family == 4:
        if c.value(s, "dhcp-client-id") == "":
            c.error(s, "dhcp-client-id", "empty")
        fqdn = c.value(s, "dhcp-fqdn")
        if fqdn is not None and "." not in fqdn:
            c.error(s, "dhcp-fqdn", f"{fqdn!r} is not a fully qualified domain name")
        if fqdn is not None and c.value(s, "dhcp-hostname") is not None:
            c.error(s, "dhcp-fqdn", "cannot be set together with dhcp-hostname=")
        link_local = c.value(s, "link-local", 0)
        if link_local == 3 and method == "disabled":
            c.error(s, "link-local", "link-local=3 (enabled) contradicts method=disabled")
        if link_local == 2 and method == "link-local":
            c.error(s, "link-local", "link-local=2 (disabled) contradicts method=link-local")
    for server in c.value(s, "dhcp-reject-servers", []):
        if family == 6:
            c.error(s, "dhcp-reject-servers", "only supported for IPv4")
            break
        if not _ip_or_subnet(server):
            c.error(s, "dhcp-reject-servers", f"{server!r} is not an IPv4 address or subnet")


def _gateway(c: Checker, s: str) -> tuple[str, str | None]:
    """The gateway NetworkManager ends up with: gateway= wins, else the first address's."""
    explicit = c.value(s, "gateway")
    if explicit is not None:
        return "gateway", explicit
    for entry, line in c.value(s, "addresses", []):
        if entry.gateway:
            return line.key, entry.gateway
    return "gateway", None


def _ip_or_subnet(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return False
    return True


# --- [proxy] ------------------------------------------------------------------------------


def verify_proxy(c: Checker) -> None:
    s = "proxy"
    method = c.value(s, "method", 0)
    if method == 0:
        for key in ("pac-url", "pac-script"):
            if c.value(s, key):
                c.error(s, key, "only with method=1 (auto)")


# --- the networking doc -------------------------------------------------------------------


def verify_doc_rules(c: Checker, ctype: str | None) -> None:
    """What balenaOS's networking doc asks of a hotspot."""
    if ctype != "802-11-wireless" or c.value("802-11-wireless", "mode") != "ap":
        return
    method = c.value("ipv4", "method", "auto")
    if method in ("auto", "link-local"):
        c.error(
            "ipv4",
            "method",
            f"a hotspot (mode=ap) with method={method} gets no address from anyone; "
            "use method=shared (the doc's hotspot) or manual",
        )
    key_mgmt = c.value("802-11-wireless-security", "key-mgmt")
    if key_mgmt in ("wpa-eap", "ieee8021x", "wpa-eap-suite-b-192"):
        c.error("802-11-wireless-security", "key-mgmt",
                f"NetworkManager cannot run a hotspot with key-mgmt={key_mgmt}")  # fmt: skip
