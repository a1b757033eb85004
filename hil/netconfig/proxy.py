"""The boot partition's `system-proxy/`: `redsocks.conf` and `no_proxy`.

The networking doc's rules for redsocks.conf: no file logging (the doc's own
example logs to `syslog:local7`; a `file:` log hits permission problems),
`daemon = off` (redsocks must not fork), `local_port = 12345` (the port
balenaOS's iptables rules redirect to). redsocks itself wants `ip` to be an
IP address (it does not resolve names), a port, and one of its proxy types.
`no_proxy` is a newline-separated list of IPs or subnets, each becoming an
iptables `-d` rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from hil.netconfig.report import Report

PROXY_TYPES = ("socks4", "socks5", "http-connect", "http-relay")
REDIRECTORS = ("iptables", "pf", "ipf", "generic")
LOCAL_PORT = 12345
_TOKEN = re.compile(
    r'(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<punct>[{};=])'
    r"|(?P<word>[^\s{};=\"]+)|(?P<space>\s+)",
    re.S,
)


@dataclass
class Section:
    name: str
    line: int
    values: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (value, line)


class RedsocksSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def parse_redsocks(text: str) -> list[Section]:
    """Sections `name { key = value; ... }` as redsocks reads them (// and /* */ comments)."""
    tokens: list[tuple[str, str, int]] = []
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise RedsocksSyntaxError(line, f"unexpected {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind in ("word", "string", "punct"):
            value = m.group()
            if kind == "string":
                value = value[1:-1]
            tokens.append((kind, value, line))
        line += m.group().count("\n")
        pos = m.end()
    sections: list[Section] = []
    i = 0

    def expect(what: str) -> tuple[str, str, int]:
        nonlocal i
        if i >= len(tokens):
            raise RedsocksSyntaxError(line, f"unexpected end of file, expected {what}")
        tok = tokens[i]
        i += 1
        return tok

    while i < len(tokens):
        kind, name, at = expect("a section name")
        if kind != "word":
            raise RedsocksSyntaxError(at, f"expected a section name, got {name!r}")
        if expect("'{'")[1] != "{":
            raise RedsocksSyntaxError(at, f"expected '{{' after {name}")
        section = Section(name, at)
        while True:
            kind, key, at = expect("a key or '}'")
            if key == "}" and kind == "punct":
                break
            if kind != "word":
                raise RedsocksSyntaxError(at, f"expected a key, got {key!r}")
            if expect("'='")[1] != "=":
                raise RedsocksSyntaxError(at, f"expected '=' after {key}")
            vkind, value, vat = expect("a value")
            if vkind == "punct":
                raise RedsocksSyntaxError(vat, f"expected a value for {key}, got {value!r}")
            if expect("';'")[1] != ";":
                raise RedsocksSyntaxError(vat, f"expected ';' after {key} = {value}")
            section.values[key] = (value, at)
        sections.append(section)
    return sections


def validate_redsocks(text: str | bytes, path: str = "redsocks.conf") -> Report:
    report = Report(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        sections = parse_redsocks(text)
    except RedsocksSyntaxError as e:
        report.error(e.message, line=e.line)
        return report
    bases = [s for s in sections if s.name == "base"]
    proxies = [s for s in sections if s.name == "redsocks"]
    for s in sections:
        if s.name not in ("base", "redsocks", "redudp", "dnstc", "dnsu2t"):
            report.error("unknown section (base, redsocks, redudp, dnstc)", s.line, s.name)
    if not bases:
        report.error("missing base { ... } (with daemon = off)", line=1, section="base")
    for base in bases:
        _check_base(base, report)
    if not proxies:
        report.error("missing redsocks { ... } (the proxy to use)", line=1, section="redsocks")
    for proxy in proxies:
        _check_proxy(proxy, report)
    report.sort()
    return report


def _onoff(s: Section, key: str, report: Report) -> str | None:
    if key not in s.values:
        return None
    value, line = s.values[key]
    if value not in ("on", "off"):
        report.error(f"expected on or off, got {value!r}", line, s.name, key)
        return None
    return value


def _check_base(s: Section, report: Report) -> None:
    for key in ("log_debug", "log_info"):
        _onoff(s, key, report)
    daemon = _onoff(s, "daemon", report)
    if daemon is None and "daemon" not in s.values:
        report.error("missing daemon = off (redsocks must not fork)", s.line, s.name, "daemon")
    elif daemon == "on":
        report.error("must be off: balenaOS runs redsocks in the foreground", s.values["daemon"][1],
                     s.name, "daemon")  # fmt: skip
    if "log" in s.values:
        log, line = s.values["log"]
        if log.startswith("file:"):
            report.error("file logging leads to permission problems; log to syslog "
                         '(log = "syslog:local7";) or stderr', line, s.name, "log")  # fmt: skip
        elif not (log.startswith("syslog:") or log == "stderr"):
            report.error(f"expected \"syslog:FACILITY\" or \"stderr\", got {log!r}", line, s.name,
                         "log")  # fmt: skip
    if "redirector" in s.values:
        value, line = s.values["redirector"]
        if value not in REDIRECTORS:
            report.error(f"expected one of {', '.join(REDIRECTORS)}, got {value!r}", line, s.name,
                         "redirector")  # fmt: skip
        elif value != "iptables":
            report.warn("balenaOS redirects with iptables", line, s.name, "redirector")
    else:
        report.warn("no redirector: balenaOS's rules need redirector = iptables", s.line, s.name,
                    "redirector")  # fmt: skip


def _check_proxy(s: Section, report: Report) -> None:
    def port(key: str) -> int | None:
        value, line = s.values[key]
        if not value.isdigit() or not 0 < int(value) < 65536:
            report.error(f"expected a port 1 to 65535, got {value!r}", line, s.name, key)
            return None
        return int(value)

    if "local_port" not in s.values:
        report.error(f"missing local_port = {LOCAL_PORT}", s.line, s.name, "local_port")
    elif (lp := port("local_port")) is not None and lp != LOCAL_PORT:
        report.error(f"must be {LOCAL_PORT}: balenaOS's iptables rules redirect there",
                     s.values["local_port"][1], s.name, "local_port")  # fmt: skip
    for key in ("local_ip", "ip"):
        if key not in s.values:
            if key == "ip":
                report.error("missing: the proxy server's IP address", s.line, s.name, key)
            continue
        value, line = s.values[key]
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            report.error(f"expected an IPv4 address (redsocks does not resolve names), "
                         f"got {value!r}", line, s.name, key)  # fmt: skip
    if "port" not in s.values:
        report.error("missing: the proxy server's port", s.line, s.name, "port")
    else:
        port("port")
    if "type" not in s.values:
        report.error(f"missing ({', '.join(PROXY_TYPES)})", s.line, s.name, "type")
    else:
        value, line = s.values["type"]
        if value not in PROXY_TYPES:
            report.error(f"expected one of {', '.join(PROXY_TYPES)}, got {value!r}", line, s.name,
                         "type")  # fmt: skip
        elif value == "socks4" and "password" in s.values:
            report.error("socks4 has no password", s.values["password"][1], s.name, "password")
    if ("login" in s.values) != ("password" in s.values):
        missing = "password" if "login" in s.values else "login"
        report.error(f"login and password go together ({missing} is missing)", s.line, s.name,
                     missing)  # fmt: skip


def redsocks_conf(
    ip: str,
    port: int,
    type: str = "socks5",
    *,
    login: str | None = None,
    password: str | None = None,
) -> str:
    """The doc's redsocks.conf for a proxy at `ip:port`, validated."""
    auth = ""
    if login is not None:
        auth = f'login = "{login}";\npassword = "{password}";\n'
    text = (
        'base {\nlog_debug = off;\nlog_info = on;\nlog = "syslog:local7";\ndaemon = off;\n'
        "redirector = iptables;\n}\n\n"
        f"redsocks {{\ntype = {type};\nip = {ip};\nport = {port};\n{auth}"
        f"local_ip = 127.0.0.1;\nlocal_port = {LOCAL_PORT};\n}}\n"
    )
    report = validate_redsocks(text)
    if not report.valid:
        raise ValueError("redsocks.conf: " + "; ".join(str(i) for i in report.errors))
    return text


def validate_no_proxy(text: str | bytes, path: str = "no_proxy") -> Report:
    """One IP address or subnet per line (each becomes an iptables -d rule)."""
    report = Report(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    entries = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            report.error("CRLF line ending: the '\\r' would end up in the iptables rule",
                         number, key=line.strip())  # fmt: skip
            line = line[:-1]
        entry = line.strip()
        if not entry:
            continue
        if entry != line:
            report.warn("leading or trailing whitespace", number, key=entry)
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            report.error("expected an IP address or subnet (like 10.0.0.0/8), one per line",
                         number, key=entry)  # fmt: skip
            continue
        entries += 1
        if "/" in entry and str(net) != entry and net.version == 4:
            report.warn(f"host bits set: the subnet is {net}", number, key=entry)
    if entries == 0 and not report.errors:
        report.warn("no entries: everything goes through the proxy", line=1)
    report.sort()
    return report
