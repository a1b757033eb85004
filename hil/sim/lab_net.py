"""The lab's network beyond a simulated board: names, servers, endpoints, the proxy.

What a board reaches past its own interfaces lives here, built from the
board's `network:` in the lab config (`hil.lab.models.LabNetwork`): the DNS
names the lab's resolvers answer, the NTP servers, the HTTPS destination, the
connectivity-check endpoint and the lab's proxy, which logs every connection
it relays (the sim's side of the lab's proxy log). The lab faults act here:
`dns-blocked`, `ntp-blocked`, `port-443-blocked`, `proxy-down`,
`connectivity-check-fails`. Nothing leaves the process: these are outcomes,
not packets.

Hosts of the simulated internet get addresses in TEST-NET-3 (203.0.113.0/24),
which is outside every range redsocks' chain exempts, so they count as
"public" to the board, as the real endpoints do.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hil.lab.models import LabNetwork

if TYPE_CHECKING:
    from hil.sim.world import World

INTERNET = ipaddress.IPv4Network("203.0.113.0/24")
#: public resolvers that answer any name of the simulated internet
PUBLIC_RESOLVERS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9"}
#: the defaults of balenaOS (balena-ntp-config) and the names its services use
DEFAULT_NTP_POOLS = [f"{n}.resinio.pool.ntp.org" for n in range(4)]
WELL_KNOWN = [
    *DEFAULT_NTP_POOLS,
    "api.balena-cloud.com",
    "registry2.balena-cloud.com",
    "cloudlink.balena-cloud.com",
    "registry-1.docker.io",
]
PORTAL_PAGE = "<html><head><title>Lab login</title></head><body>Sign in</body></html>\n"


class NetFailure(Exception):
    """A connection that did not happen, with curl's exit code and words."""

    def __init__(self, code: int, message: str, world_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        #: how long the attempt takes before it fails (a timeout waits)
        self.world_seconds = world_seconds


@dataclass
class ProxyLogEntry:
    """One connection the lab's proxy relayed (what its access log shows)."""

    time: float
    client: str
    host: str
    port: int
    proxy_type: str

    def line(self) -> str:
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self.time))
        return f"{stamp} CONNECT {self.host}:{self.port} from {self.client} ({self.proxy_type})"


@dataclass
class HttpResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def internet_address(name: str) -> str:
    """A stable address in the simulated internet for a host name."""
    return str(INTERNET.network_address + 10 + zlib.crc32(name.encode()) % 200)


class LabNet:
    """The lab network one simulated board sits in."""

    def __init__(self, world: World, network: LabNetwork) -> None:
        self.world = world
        self.network = network
        self.lock = threading.Lock()
        self.proxy_log: list[ProxyLogEntry] = []
        self.names: dict[str, str] = {}
        for name in [*WELL_KNOWN, network.lookup_name, *self._named_servers()]:
            self.names[name] = internet_address(name)
        for url in (network.https_url, network.connectivity.uri if network.connectivity else ""):
            host = urlsplit(url).hostname
            if host and not _is_ip(host):
                self.names.setdefault(host, internet_address(host))

    def _named_servers(self) -> list[str]:
        return [s for s in self.network.ntp_servers if not _is_ip(s)]

    # -- DNS -----------------------------------------------------------
    def resolver_answers(self, server: str) -> bool:
        """Whether a DNS server at `server` exists and answers (before faults)."""
        return (
            server in PUBLIC_RESOLVERS
            or server in self.network.dns_servers
            or server in self.dhcp_servers()
        )

    def dhcp_servers(self) -> list[str]:
        """DNS servers the lab's DHCP servers hand out (each network's gateway)."""
        servers = []
        for act in self.world.nm.active():
            if act.ip and act.ip.method == "auto":
                servers += act.ip.dns
        return servers

    def query(self, server: str, name: str) -> str | None:
        """Ask `server` for `name`: its address, None for NXDOMAIN; NetFailure when
        no answer comes back (the server is unreachable, blocked or absent)."""
        if self.world.fault("dns-blocked"):
            raise NetFailure(6, "connection timed out", world_seconds=5.0)
        if not self.world_reachable(server) or not self.resolver_answers(server):
            raise NetFailure(6, "connection timed out", world_seconds=5.0)
        if _is_ip(name):
            return name
        return self.names.get(name.rstrip(".").lower())

    # -- routing -------------------------------------------------------
    def world_reachable(self, address: str) -> bool:
        """The board has a route to `address` (a default route, or a link to it)."""
        if address.startswith("127."):
            return True
        nm = self.world.nm
        nm.tick()
        if nm.default_device() is not None:
            return True
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        return any(
            act.ip is not None and act.ip.address and ip in act.ip.interface.network
            for act in nm.active()
        )

    def source_address(self, iface: str | None = None) -> str:
        """The address the board sends from: `iface`'s (the IP interface: a modem's
        wwan0, not its NetworkManager device cdc-wdm0), else the default route's."""
        nm = self.world.nm
        wanted = iface or nm.default_device()
        for act in nm.active():
            if act.ip and act.ip.address and act.device.ip_iface == wanted:
                return str(act.ip.interface.ip)
        return "0.0.0.0"

    def reachable_via(self, address: str, iface: str) -> bool:
        """A socket bound to `iface` (curl --interface, SO_BINDTODEVICE) reaches
        `address` only through that interface's own routes: its default route (at
        any metric) or its link."""
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        self.world.nm.tick()
        return any(
            r["dev"] == iface and (r["dst"] == "default" or ip in ipaddress.IPv4Network(r["dst"]))
            for r in self.world.nm.routes()
        )

    def route_to(self, address: str) -> dict | None:
        """The route the kernel picks for `address` (longest prefix, then lowest
        metric), as `ip -j route get` shows it; None: unreachable."""
        ip = ipaddress.IPv4Address(address)
        self.world.nm.tick()
        best = None
        for r in self.world.nm.routes():
            net = ipaddress.IPv4Network("0.0.0.0/0" if r["dst"] == "default" else r["dst"])
            if ip in net:
                key = (-net.prefixlen, r["metric"])
                if best is None or key < best[0]:
                    best = (key, r)
        if best is None:
            return None
        r = best[1]
        route = {"dst": address, **({"gateway": r["gateway"]} if "gateway" in r else {})}
        return route | {
            "dev": r["dev"],
            "prefsrc": r["prefsrc"],
            "flags": [],
            "uid": 0,
            "cache": [],
        }

    # -- NTP -----------------------------------------------------------
    def ntp_answers(self, address: str) -> bool:
        """An NTP server at `address` answers the board."""
        if self.world.fault("ntp-blocked") or not self.world_reachable(address):
            return False
        pools = {self.names[n] for n in DEFAULT_NTP_POOLS}
        lab = {self.names.get(s, s) for s in self.network.ntp_servers}
        return address in pools | lab | self.gateways()

    def gateways(self) -> set[str]:
        return {act.ip.gateway for act in self.world.nm.active() if act.ip and act.ip.gateway}

    # -- TCP and HTTP --------------------------------------------------
    def host_for(self, address: str) -> str | None:
        for name, ip in self.names.items():
            if ip == address:
                return name
        return None

    def direct(self, address: str, port: int, iface: str | None = None) -> None:
        """A direct TCP connection from the board; NetFailure when it can't be made."""
        if iface is not None and self.source_address(iface) == "0.0.0.0":
            raise NetFailure(45, f"bind failed with errno 19: No such device ({iface})")
        if iface is not None and not self.reachable_via(address, iface):
            raise NetFailure(
                7, f"Failed to connect to {address} port {port}: Network is unreachable"
            )
        if not self.world_reachable(address):
            raise NetFailure(
                7, f"Failed to connect to {address} port {port}: Network is unreachable"
            )
        if port == 443 and self.world.fault("port-443-blocked"):
            raise NetFailure(
                28,
                f"Failed to connect to {address} port {port}: Connection timed out",
                world_seconds=130.0,
            )
        if self.host_for(address) is None and not self._lab_proxy_at(address, port):
            raise NetFailure(
                28,
                f"Failed to connect to {address} port {port}: Connection timed out",
                world_seconds=130.0,
            )
        if self._lab_proxy_at(address, port) and self.world.fault("proxy-down"):
            raise NetFailure(7, f"Failed to connect to {address} port {port}: Connection refused")

    def _lab_proxy_at(self, address: str, port: int) -> bool:
        proxy = self.network.proxy
        return proxy is not None and proxy.ip == address and proxy.port == port

    def relay(
        self,
        proxy_ip: str,
        proxy_port: int,
        proxy_type: str,
        login: str | None,
        password: str | None,
        address: str,
        port: int,
        transparent: bool = False,
    ) -> None:
        """A connection the board asks a proxy to relay; the lab's proxy logs it.

        NetFailure(56) when the proxy is not there, refuses, or wants other
        credentials or another protocol than the board speaks."""
        try:
            self.direct(proxy_ip, proxy_port)
        except NetFailure as e:
            if not transparent:
                raise
            # redsocks took the board's connection and then could not reach the
            # proxy: the board sees its connection reset
            raise NetFailure(56, "Recv failure: Connection reset by peer", e.world_seconds) from e
        proxy = self.network.proxy
        assert proxy is not None  # _lab_proxy_at checked it in direct()
        if (
            proxy.type != proxy_type
            or (proxy.login or None) != (login or None)
            or (proxy.password or None) != (password or None)
        ):
            raise NetFailure(56, "Recv failure: Connection reset by peer")
        if self.host_for(address) is None:
            raise NetFailure(56, "Recv failure: Connection reset by peer")
        with self.lock:
            self.proxy_log.append(
                ProxyLogEntry(time.time(), self.source_address(), address, port, proxy_type)
            )

    def http(self, host: str, port: int, path: str) -> HttpResponse:
        """What the server at `host` answers to GET `path` (after the connection is made)."""
        name = host if not _is_ip(host) else (self.host_for(host) or host)
        conn = self.network.connectivity
        if conn is not None and _endpoint(conn.uri) == (name, path):
            if self.world.fault("connectivity-check-fails"):
                return HttpResponse(200, PORTAL_PAGE, {"Content-Type": "text/html"})
            return HttpResponse(
                200 if conn.response else 204,
                conn.response,
                {"Content-Type": "text/plain", "X-NetworkManager-Status": "online"},
            )
        if _endpoint(self.network.https_url) == (name, path):
            return HttpResponse(200, "OK", {"Content-Type": "text/plain"})
        if name in self.names:
            return HttpResponse(404, "Not Found\n", {"Content-Type": "text/plain"})
        return HttpResponse(404, "Not Found\n", {})


def _endpoint(url: str) -> tuple[str | None, str]:
    parts = urlsplit(url)
    return parts.hostname, parts.path or "/"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
