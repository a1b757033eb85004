"""How NetworkManager's keyfile reader turns a value into a property.

Each `read_*` function takes the value as written (still escaped) and returns
what NetworkManager would load, or raises `BadValue` with what was expected:
exactly the cases where the reader drops the entry (with a warning nobody
sees) or refuses it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass

from hil.netconfig.gkeyfile import ValueSyntaxError, unescape, unescape_bytes, unescape_list


class BadValue(ValueError):
    """NetworkManager would not load this value; the message says what was expected."""


def read_string(raw: str) -> str:
    try:
        return unescape(raw)
    except ValueSyntaxError as e:
        raise BadValue(f"{e}; NetworkManager cannot read the value") from None


def read_list(raw: str) -> list[str]:
    try:
        return unescape_list(raw)
    except ValueSyntaxError as e:
        raise BadValue(f"{e}; NetworkManager cannot read the list") from None


def read_bool(raw: str) -> bool:
    word = raw.rstrip(" \t")
    if word in ("true", "1"):
        return True
    if word in ("false", "0"):
        return False
    raise BadValue(f"expected true or false, got {_short(raw)}")


_DEC = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_HEX = re.compile(r"[+-]?0[xX][0-9a-fA-F]+")
_OCT = re.compile(r"[+-]?0[0-7]+")


def parse_c_integer(raw: str) -> int | None:
    """An integer as strtoll(..., base 0) reads it: 10, 0x0a (hex), 012 (octal!)."""
    text = raw.strip(" \t\n\v\f\r")
    if _DEC.fullmatch(text):
        return int(text, 10)
    if _HEX.fullmatch(text):
        return int(text.replace("0x", "").replace("0X", ""), 16)
    if _OCT.fullmatch(text):
        return int(text, 8)
    return None


def read_int(raw: str, lo: int, hi: int, choices: tuple[int, ...] | None = None) -> int:
    value = parse_c_integer(raw)
    if value is None:
        raise BadValue(f"expected an integer, got {_short(raw)}")
    if choices is not None and value not in choices:
        raise BadValue(f"expected one of {', '.join(map(str, choices))}, got {value}")
    if not lo <= value <= hi:
        raise BadValue(f"expected an integer from {lo} to {hi}, got {value}")
    return value


_MAC = re.compile(r"[0-9A-Fa-f]{1,2}([:-][0-9A-Fa-f]{1,2}){5}")
CLONED_MAC_SPECIAL = ("preserve", "permanent", "random", "stable")


def is_mac(text: str) -> bool:
    return bool(_MAC.fullmatch(text)) and len(set(re.findall(r"[:-]", text))) == 1


def read_mac(raw: str, cloned: bool = False) -> str:
    """A hardware address `aa:bb:cc:dd:ee:ff` (or the legacy list of 6 byte values)."""
    text = read_string(raw)
    if cloned and text in CLONED_MAC_SPECIAL:
        return text
    if is_mac(text):
        return ":".join(f"{int(p, 16):02X}" for p in re.split(r"[:-]", text))
    legacy = _byte_list(text)
    if legacy is not None and len(legacy) == 6:
        return ":".join(f"{b:02X}" for b in legacy)
    expected = "a MAC address like 02:00:00:00:01:00"
    if cloned:
        expected += " or one of " + ", ".join(CLONED_MAC_SPECIAL)
    raise BadValue(f"expected {expected}, got {_short(text)}")


def _byte_list(text: str) -> bytes | None:
    """The legacy `104;105;108;` form of bytes: digits and ';' only, each 0..255."""
    if not text or not re.fullmatch(r"[\s0-9;]+", text):
        return None
    items = [p.strip() for p in text.split(";")]
    if items[-1] == "":
        items.pop()
    else:
        return None  # NetworkManager wants every number followed by ';'
    if not items or not all(re.fullmatch(r"[0-9]{1,3}", p) for p in items):
        return None
    values = [int(p) for p in items]
    if any(v > 255 for v in values):
        return None
    return bytes(values)


@dataclass(frozen=True)
class Bytes:
    """A byte-array property (ssid, password-raw) and whether it was a legacy byte list."""

    data: bytes
    from_list: bool


def read_bytes(raw: str) -> Bytes:
    text = unescape_bytes(raw)
    legacy = _byte_list(text)
    if legacy is not None:
        return Bytes(legacy, True)
    return Bytes(text.encode("utf-8", "surrogateescape"), False)


CERT_EXTENSIONS = (".pem", ".cert", ".crt", ".cer", ".p12", ".der", ".key")


@dataclass(frozen=True)
class Cert:
    """A certificate/key property: `path` (absolute or relative), `pkcs11`, `blob` or `guess`.

    `guess`: a bare word without '/' or certificate extension (the doc's
    `ca-cert=PLACE_YOUR_CERTIFICATE_HERE`): NetworkManager takes it as a file
    next to the connection file if one exists there when it loads, else as
    certificate data.
    """

    scheme: str
    value: str


def read_cert(raw: str) -> Cert:
    text = read_string(raw)
    if not text:
        raise BadValue("expected a certificate path (or file://, pkcs11:, data:;base64,), got ''")
    if text.startswith("file://"):
        path = text[len("file://") :]
        if not path:
            raise BadValue("expected a path after file://")
        return Cert("path", path)
    if text.startswith("pkcs11:"):
        return Cert("pkcs11", text)
    if text.startswith("data:;base64,"):
        data = text[len("data:;base64,") :]
        try:
            if not data or len(data) % 4:
                raise binascii.Error
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadValue("data:;base64, is followed by something that is not base64") from None
        return Cert("blob", text)
    if "/" in text or text.endswith(CERT_EXTENSIONS):
        return Cert("path", text)
    return Cert("guess", text)


def read_parity(raw: str) -> int:
    """serial.parity: n/e/o (any case), their ASCII codes (78, 69, 79, ...), or 0..2."""
    text = raw
    letters = {"n": 0, "e": 1, "o": 2}
    if len(text) == 1 and text.lower() in letters:
        return letters[text.lower()]
    value = parse_c_integer(text)
    if value is not None:
        if 0 <= value < 256 and chr(value).lower() in letters:
            return letters[chr(value).lower()]
        if value in (0, 1, 2):
            return value
    raise BadValue(f"expected n (none), e (even) or o (odd), got {_short(text)}")


ADDR_GEN_MODES = {"eui64": 0, "stable-privacy": 1, "default-or-eui64": 2, "default": 3}


def read_addr_gen_mode(raw: str) -> int:
    text = read_string(raw)
    if text in ADDR_GEN_MODES:
        return ADDR_GEN_MODES[text]
    value = parse_c_integer(text)
    if value in ADDR_GEN_MODES.values():
        return value  # type: ignore[return-value]
    raise BadValue(f"expected eui64 or stable-privacy, got {_short(text)}")


# --- IP addresses -------------------------------------------------------------------


def parse_ip(text: str, family: int) -> str | None:
    """The canonical form of an address of this family as inet_pton reads it, else None."""
    if "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if addr.version != family:
        return None
    return str(addr)


def read_dns(raw: str, family: int) -> list[str]:
    """dns=: a list of addresses, each optionally `#server-name` (DNS over TLS)."""
    servers = read_list(raw)
    bad = []
    for server in servers:
        address, sep, name = server.partition("#")
        if parse_ip(address, family) is None or (sep and not name):
            bad.append(server)
    if bad:
        raise BadValue(
            f"expected IPv{family} addresses separated by ';', got "
            + ", ".join(repr(b) for b in bad)
            + " (NetworkManager drops these entries and keeps the rest)"
        )
    return servers


_IP_CHARS = set("0123456789abcdefABCDEF:.%")
_DIGITS = set("0123456789")
_DELIMITERS = set("/;,")


@dataclass(frozen=True)
class IPEntry:
    """One address1=/route1= entry as NetworkManager reads it."""

    address: str
    prefix: int
    gateway: str | None
    metric: int | None = None


def _fields(value: str, sets: list[set[str]]) -> tuple[list[str | None], str]:
    """Split `value` the way NetworkManager's read_field() does: fields of allowed
    characters, each ended by one of `/` `;` `,` (interchangeable). Returns the
    fields (None where absent) and what is left over."""
    out: list[str | None] = []
    rest: str | None = value
    for allowed in sets:
        if rest is None or rest == "":
            out.append(None)
            continue
        i = 0
        while i < len(rest) and rest[i] in allowed:
            i += 1
        if i == len(rest):
            out.append(rest)
            rest = None
        elif rest[i] in _DELIMITERS:
            out.append(rest[:i])
            rest = rest[i + 1 :]
        else:
            if allowed is _DIGITS:  # a bad prefix field is skipped, not fatal
                out.append(None)
                continue
            raise BadValue(f"unexpected character {rest[i]!r} in {value!r}")
    return out, rest or ""


def read_ip_entry(raw: str, family: int, route: bool) -> IPEntry:
    """`address1=192.168.1.111/24,192.168.1.1` or `route1=10.0.0.0/8,10.0.0.1,100`."""
    value = read_string(raw)
    what = "route" if route else "address"
    form = "NETWORK/PREFIX[,GATEWAY[,METRIC]]" if route else "ADDRESS/PREFIX[,GATEWAY]"
    sets = [_IP_CHARS, _DIGITS, _IP_CHARS] + ([_DIGITS] if route else [])
    try:
        fields, rest = _fields(value, sets)
    except BadValue as e:
        raise BadValue(f"{e}; expected {form}") from None
    if rest:
        raise BadValue(f"unexpected {rest!r} after the {what}; expected {form}")
    address, plen, gateway, *metric = fields
    max_plen = 32 if family == 4 else 128
    if plen is None or plen == "":
        raise BadValue(
            f"missing prefix length (like /24); expected {form} "
            f"(NetworkManager would guess /{_default_plen(family, route)})"
        )
    if not re.fullmatch(r"[0-9]+", plen) or int(plen) > max_plen:
        raise BadValue(
            f"prefix length must be 0 to {max_plen}, got {plen!r} "
            f"(NetworkManager would use /{_default_plen(family, route)} instead)"
        )
    if address is None or parse_ip(address, family) is None:
        raise BadValue(f"{address!r} is not an IPv{family} address; expected {form}")
    gw = gateway or None
    if gw is not None and parse_ip(gw, family) is None:
        raise BadValue(f"gateway {gw!r} is not an IPv{family} address")
    metric_value = None
    if route and metric and metric[0]:
        metric_value = int(metric[0])
        if metric_value > 2**32 - 1:
            raise BadValue(f"route metric {metric_value} is out of range")
    return IPEntry(parse_ip(address, family) or address, int(plen), gw, metric_value)


def _default_plen(family: int, route: bool) -> int:
    if family == 4:
        return 24
    return 128 if route else 64


#: NetworkManager's names for numbered address/route keys (strict: `address01` is not one).
IP_LIST_KEY = re.compile(r"(address|addresses|route|routes)(0|[1-9][0-9]*)?")
IP_LIST_KEY_LOOSE = re.compile(r"(address|addresses|route|routes|routing-rule)[0-9]+")


def ip_list_key_index(key: str) -> tuple[str, int] | None:
    """('address', 1) for `address1`, ('route', -1) for `route`; None if not such a key."""
    match = IP_LIST_KEY.fullmatch(key)
    if not match:
        return None
    index = int(match.group(2)) if match.group(2) else -1
    if index > 2**31 - 1:
        return None
    base = "address" if match.group(1).startswith("address") else "route"
    return base, index


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
