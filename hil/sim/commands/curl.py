"""`curl` on the simulated board (curl 7.88's options, messages and exit codes).

Connections go through the board's network stack (`Services.connect`): the
redsocks chain when a proxy is configured, else direct, with the lab faults
of `hil.sim.lab_net`. Supported: `-s -S -o -w -m/--max-time --connect-timeout
--interface -x/--proxy --noproxy -I -f -k -L -H -A`; `-w` knows the
variables the harness uses (`http_code response_code remote_ip remote_port
local_ip exitcode errormsg time_total time_connect url_effective
size_download content_type num_connects`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hil.sim.commands import command
from hil.sim.lab_net import HttpResponse, NetFailure
from hil.sim.shell.interp import Proc

PROXY_TYPES = {
    "socks5": "socks5",
    "socks5h": "socks5",
    "socks4": "socks4",
    "socks4a": "socks4",
    "http": "http-connect",
}


@dataclass
class CurlOpts:
    url: str = ""
    silent: bool = False
    show_error: bool = False
    output: str | None = None
    write_out: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    interface: str | None = None
    proxy: str | None = None
    noproxy: list[str] = field(default_factory=list)
    head: bool = False
    fail: bool = False


class CurlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TAKES_VALUE = {
    "-o": "output",
    "--output": "output",
    "-w": "write_out",
    "--write-out": "write_out",
    "-m": "max_time",
    "--max-time": "max_time",
    "--connect-timeout": "connect_timeout",
    "--interface": "interface",
    "-x": "proxy",
    "--proxy": "proxy",
    "--noproxy": "noproxy",
    "-H": None,
    "--header": None,
    "-A": None,
    "--user-agent": None,
    "--retry": None,
}
_FLAGS = {
    "-s": "silent",
    "--silent": "silent",
    "-S": "show_error",
    "--show-error": "show_error",
    "-I": "head",
    "--head": "head",
    "-f": "fail",
    "--fail": "fail",
}


def parse_args(args: list[str]) -> CurlOpts:
    o = CurlOpts()
    it = iter(args)
    for a in it:
        if a in _TAKES_VALUE:
            value = next(it, None)
            if value is None:
                raise CurlError(2, f"option {a}: requires parameter")
            attr = _TAKES_VALUE[a]
            if attr in ("max_time", "connect_timeout"):
                try:
                    setattr(o, attr, float(value))
                except ValueError:
                    raise CurlError(
                        2, f"option {a}: expected a proper numerical parameter"
                    ) from None
            elif attr == "noproxy":
                o.noproxy = [n.strip() for n in value.split(",") if n.strip()]
            elif attr:
                setattr(o, attr, value)
        elif a in _FLAGS:
            setattr(o, _FLAGS[a], True)
        elif a in ("-k", "--insecure", "-L", "--location", "-v", "--verbose", "-q"):
            continue
        elif re.fullmatch(r"-[sSIfkLv]+", a):
            for ch in a[1:]:
                if f"-{ch}" in _FLAGS:
                    setattr(o, _FLAGS[f"-{ch}"], True)
        elif a.startswith("-"):
            raise CurlError(2, f"option {a}: is unknown")
        else:
            o.url = a
    if not o.url:
        raise CurlError(2, "no URL specified")
    return o


@dataclass
class Transfer:
    """What -w reports about one transfer."""

    url: str
    code: int = 0
    message: str = ""
    response: HttpResponse | None = None
    remote_ip: str = ""
    remote_port: int = 0
    local_ip: str = ""
    seconds: float = 0.0
    connected: bool = False


def _write_out(fmt: str, t: Transfer) -> str:
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
    status = t.response.status if t.response else 0
    values = {
        "http_code": f"{status:03d}",
        "response_code": f"{status:03d}",
        "remote_ip": t.remote_ip,
        "remote_port": str(t.remote_port) if t.remote_port else "0",
        "local_ip": t.local_ip,
        "exitcode": str(t.code),
        "errormsg": t.message,
        "time_total": f"{t.seconds:.6f}",
        "time_connect": f"{t.seconds / 2:.6f}" if t.connected else "0.000000",
        "url_effective": t.url,
        "size_download": str(len(t.response.body.encode())) if t.response else "0",
        "content_type": (t.response.headers.get("Content-Type", "") if t.response else ""),
        "num_connects": "1" if t.connected else "0",
    }
    return re.sub(r"%\{([a-z_]+)\}", lambda m: values.get(m.group(1), ""), fmt)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _interfaces(p: Proc) -> set[str]:
    """The board's network interfaces: NetworkManager's devices and their IP
    interfaces, and those of the USB modems on the bus (wwan0 exists, addressed or not)."""
    names = {st.device.ip_iface for st in p.world.nm.devices.values()} | set(p.world.nm.devices)
    bus = p.world.subsystems.get("usb")
    for modem in getattr(bus, "modems", []):
        names |= set(modem.net)
    return names


def transfer(p: Proc, o: CurlOpts) -> Transfer:
    services = p.world.subsystems["services"]
    url = o.url if "://" in o.url else f"http://{o.url}"
    parts = urlsplit(url)
    t = Transfer(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    limit = min(x for x in (o.max_time, o.connect_timeout, 300.0) if x is not None)
    try:
        if parts.scheme not in ("http", "https"):
            raise CurlError(1, f'Protocol "{parts.scheme}" not supported or disabled in libcurl')
        if o.interface and o.interface not in _interfaces(p):
            raise CurlError(45, f"Couldn't bind to '{o.interface}'")
        proxy = None if host in o.noproxy or "*" in o.noproxy else o.proxy
        if proxy:
            t.remote_ip, t.remote_port = _via_proxy(p, proxy, host, port, parts.scheme, limit, t)
        else:
            address = host if _is_ip(host) else _resolve(services, host)
            services.connect(address, port, o.interface)
            t.remote_ip, t.remote_port = address, port
        t.connected = True
        t.local_ip = services.lab.source_address(o.interface)
        t.response = services.lab.http(host, port, parts.path or "/")
        t.seconds = 0.05
        if o.fail and t.response.status >= 400:
            raise CurlError(22, f"The requested URL returned error: {t.response.status}")
    except NetFailure as e:
        if e.world_seconds > limit:
            p.sleep(p.world.clock.real_seconds(limit))
            t.code, t.seconds = 28, limit
            t.message = f"Connection timed out after {int(limit * 1000) + 1} milliseconds"
        else:
            p.sleep(p.world.clock.real_seconds(e.world_seconds))
            t.code, t.seconds = _curl_code(e, parts.scheme), e.world_seconds
            t.message = _curl_message(e, host, port, parts.scheme)
    except CurlError as e:
        t.code, t.message = e.code, e.message
    return t


def _resolve(services, host: str) -> str:
    try:
        address = services.resolve(host)
    except NetFailure as e:
        raise NetFailure(6, f"Could not resolve host: {host}", e.world_seconds) from None
    if address is None:
        raise NetFailure(6, f"Could not resolve host: {host}")
    return address


def _via_proxy(p: Proc, proxy: str, host: str, port: int, scheme: str, limit: float, t: Transfer):
    services = p.world.subsystems["services"]
    pparts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    kind = PROXY_TYPES.get(pparts.scheme)
    if kind is None:
        raise CurlError(5, f"Unsupported proxy scheme for '{proxy}'")
    pport = pparts.port or 1080
    paddress = pparts.hostname or ""
    if not _is_ip(paddress):
        try:
            paddress = services.resolve(paddress) or ""
        except NetFailure:
            paddress = ""
        if not paddress:
            raise CurlError(5, f"Could not resolve proxy: {pparts.hostname}")
    # the connection to the proxy itself may be redirected by the nat chain
    address = host
    if not _is_ip(host):
        if pparts.scheme in ("socks5h", "http", "socks4a"):
            address = services.lab.names.get(host, host)  # the proxy resolves it
        else:
            address = _resolve(services, host)
    try:
        services.lab.relay(paddress, pport, kind, pparts.username, pparts.password, address, port)
    except NetFailure as e:
        if e.code == 56 and kind.startswith("socks"):
            raise NetFailure(97, "Can't complete SOCKS5 connection", e.world_seconds) from None
        raise
    return paddress, pport


def _curl_code(e: NetFailure, scheme: str) -> int:
    if e.code == 56 and scheme == "https":
        return 35
    return e.code


def _curl_message(e: NetFailure, host: str, port: int, scheme: str) -> str:
    if e.code == 6:
        return e.message if "resolve" in e.message else f"Could not resolve host: {host}"
    if e.code in (7, 28):
        return (
            f"Failed to connect to {host} port {port} after {int(e.world_seconds * 1000)} ms: "
            "Couldn't connect to server"
        )
    if e.code == 56 and scheme == "https":
        return f"OpenSSL SSL_connect: Connection reset by peer in connection to {host}:{port}"
    return e.message


@command("curl")
def curl(p: Proc) -> int:
    try:
        o = parse_args(p.args[1:])
    except CurlError as e:
        p.err(
            f"curl: {e.message}\ncurl: try 'curl --help' or 'curl --manual' for more information\n"
        )
        return e.code
    t = transfer(p, o)
    if t.response is not None and t.code in (0, 22):
        if o.head:
            head = f"HTTP/1.1 {t.response.status}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in t.response.headers.items()
            )
            body = head + "\r\n"
        else:
            body = t.response.body if t.code == 0 else ""
        if o.output and o.output != "-":
            if o.output != "/dev/null":
                p.world.fs.write(p.path(o.output), body)
        else:
            p.out(body)
    if t.code and (not o.silent or o.show_error):
        p.err(f"curl: ({t.code}) {t.message}\n")
    if o.write_out is not None:
        p.out(_write_out(o.write_out, t))
    return t.code
