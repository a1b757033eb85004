"""redsocks.conf as redsocks 0.5 reads it (`redsocks -t -c FILE`).

The grammar of redsocks' own parser: `section { key = value; ... }`, tokens
are quoted strings (with `\\n \\t \\r \\\\ \\' \\"` escapes), numbers and
addresses (digits, dots, `/`), names (letters, digits, `_ . -`) and the
punctuation `{ } = ;`; `//` and `/* */` are comments. Each key has a type
(boolean, string, 16-bit integer, IPv4 address or resolvable name). The
first problem ends the parse and is reported as redsocks does:
`file parsing error at line N: MESSAGE` (checked against the real redsocks by
tests/test_sim_redsocks.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

PROXY_TYPES = ("socks4", "socks5", "http-connect", "http-relay")
_BOOL = {
    "ok": True,
    "on": True,
    "yes": True,
    "true": True,
    "off": False,
    "no": False,
    "false": False,
}

#: section → key → value type
SECTIONS: dict[str, dict[str, str]] = {
    "base": {
        "log_debug": "bool",
        "log_info": "bool",
        "log": "str",
        "daemon": "bool",
        "user": "str",
        "group": "str",
        "chroot": "str",
        "redirector": "str",
    },
    "redsocks": {
        "local_ip": "addr",
        "local_port": "u16",
        "ip": "addr",
        "port": "u16",
        "type": "str",
        "login": "str",
        "password": "str",
        "listenq": "u16",
        "min_accept_backoff": "u16",
        "max_accept_backoff": "u16",
    },
    "redudp": {
        "local_ip": "addr",
        "local_port": "u16",
        "ip": "addr",
        "port": "u16",
        "login": "str",
        "password": "str",
        "dest_ip": "addr",
        "dest_port": "u16",
        "udp_timeout": "u16",
        "udp_timeout_stream": "u16",
    },
    "dnstc": {"local_ip": "addr", "local_port": "u16"},
}


class RedsocksConfError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"file parsing error at line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class RedsocksConf:
    """The parsed file: each section's values (repeated sections in order)."""

    sections: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def section(self, name: str) -> dict[str, object] | None:
        return next((values for n, values in self.sections if n == name), None)

    @property
    def proxy(self) -> dict[str, object] | None:
        return self.section("redsocks")


_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>\d[\d./]*)|(?P<name>[A-Za-z][A-Za-z0-9_.-]*)'
    r"|(?P<punct>[{}=;])|(?P<comment>//|/\*))"
)


def _unquote(token: str, line: int) -> str:
    out, i = [], 1
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
    while i < len(token) - 1:
        c = token[i]
        if c == "\\":
            nxt = token[i + 1]
            if nxt not in escapes:
                raise RedsocksConfError(line, "unknown escaped char after \\")
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_redsocks_conf(
    text: str, resolve: Callable[[str], str | None] | None = None
) -> RedsocksConf:
    """Parse like redsocks; `resolve` looks up names given for address keys."""
    conf = RedsocksConf()
    section: str | None = None
    values: dict[str, object] = {}
    pending: list[str] = []  # section name, or key [value]
    in_comment = False
    line_no = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        rest = raw
        if in_comment:
            end = rest.find("*/")
            if end < 0:
                continue
            rest, in_comment = rest[end + 2 :], False
        pos = 0
        while True:
            m = _TOKEN.match(rest, pos)
            if m is None:
                if rest[pos:].strip():
                    if rest[pos:].lstrip().startswith('"'):
                        raise RedsocksConfError(line_no, "unclosed string")
                    raise RedsocksConfError(line_no, "unexpected char")
                break
            pos = m.end()
            if m.group("comment") == "//":
                break
            if m.group("comment") == "/*":
                end = rest.find("*/", pos)
                if end < 0:
                    in_comment = True
                    break
                pos = end + 2
                continue
            punct = m.group("punct")
            token = m.group(m.lastgroup or "")
            if m.group("str") is not None:
                token = _unquote(token, line_no)
            if punct == "{":
                if section is not None:
                    raise RedsocksConfError(line_no, "section-in-section is invalid")
                if not pending:
                    raise RedsocksConfError(line_no, "expected token before ``{''")
                if pending[0] not in SECTIONS:
                    raise RedsocksConfError(line_no, f"unknown section <{pending[0]}>")
                section, values, pending = pending[0], {}, []
            elif punct == "}":
                if section is None:
                    raise RedsocksConfError(line_no, "can't close non-opened section")
                _on_exit(section, values, line_no)
                conf.sections.append((section, values))
                section = None
            elif punct == "=":
                if section is None:
                    raise RedsocksConfError(line_no, "assignment used outside of any section")
                if not pending:
                    raise RedsocksConfError(line_no, "assignment used without key")
            elif punct == ";":
                if section is None:
                    raise RedsocksConfError(
                        line_no, "assignment termination outside of any section"
                    )
                if len(pending) == 1:
                    raise RedsocksConfError(line_no, "assignment has only key but no value")
                if len(pending) == 2:
                    key, value = pending
                    values[key] = _value(section, key, value, line_no, resolve)
                pending = []
            elif section is None and not pending:
                pending = [token]
            elif section is not None and len(pending) < 2:
                pending.append(token)
            else:
                if section is not None:
                    raise RedsocksConfError(
                        line_no,
                        f"invalid token order: key_token={pending[0]}, "
                        f"value_token={pending[1]}, next token={token}",
                    )
                raise RedsocksConfError(line_no, "invalid token order")
    if section is not None:
        raise RedsocksConfError(line_no, "unclosed section")
    if pending:
        raise RedsocksConfError(line_no, "stale section_token")
    return conf


def _value(
    section: str,
    key: str,
    value: str,
    line: int,
    resolve: Callable[[str], str | None] | None,
) -> object:
    kind = SECTIONS[section].get(key)
    if kind is None:
        raise RedsocksConfError(line, f"assignment with unknown key <{key}>")
    if kind == "bool":
        if value not in _BOOL:
            raise RedsocksConfError(line, "boolean is not parsed")
        return _BOOL[value]
    if kind == "u16":
        try:
            number = int(value, 0)
        except ValueError:
            raise RedsocksConfError(line, "integer is not parsed") from None
        if number > 0xFFFF:
            raise RedsocksConfError(line, "integer out of 16bit range")
        return number
    if kind == "addr":
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            address = resolve(value) if resolve else None
            if address is None:
                raise RedsocksConfError(
                    line,
                    f"unable to resolve {value}, getaddrinfo error -2 (Name or service not known)",
                ) from None
            return address
    return value


def _on_exit(section: str, values: dict[str, object], line: int) -> None:
    if section == "redsocks":
        kind = values.get("type")
        if kind is None:
            raise RedsocksConfError(line, "no `type` for redsocks")
        if kind not in PROXY_TYPES:
            raise RedsocksConfError(line, f"invalid `type` <{kind}> for redsocks")
