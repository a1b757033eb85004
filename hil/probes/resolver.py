"""The resolver files of balenaOS and busybox `nslookup` output, as models.

- `/run/dnsmasq.servers`: `server=ADDRESS` lines that `balena-net-config`
  writes from config.json `dnsServers` (dnsmasq's `--servers-file`);
- `/etc/resolv.conf` and `/etc/resolv.dnsmasq`: `nameserver ADDRESS` lines
  (the first points at dnsmasq on 127.0.0.2, the second lists
  NetworkManager's servers, those learned by DHCP, for dnsmasq's `-r`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def parse_servers_file(text: str) -> list[str]:
    """The upstream servers of a dnsmasq servers file, in order."""
    servers = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("server="):
            value = line.split("=", 1)[1].strip()
            # `server=/domain/addr` limits a server to a domain; the address is last
            servers.append(value.rsplit("/", 1)[-1].split("#")[0])
    return servers


def parse_resolv_conf(text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf-style file."""
    servers = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
    return servers


@dataclass(frozen=True)
class Lookup:
    """One `nslookup NAME [SERVER]` (busybox)."""

    name: str
    server: str | None
    addresses: list[str] = field(default_factory=list)
    error: str | None = None  # NXDOMAIN, REFUSED, SERVFAIL, "timeout"

    @property
    def ok(self) -> bool:
        return bool(self.addresses) and self.error is None


_CANT_FIND = re.compile(r"\*\* server can't find (\S+?):? (\w+)")


def parse_nslookup(text: str, name: str) -> Lookup:
    """busybox nslookup: the server asked, the answer's addresses or the error."""
    if "connection timed out" in text or "no servers could be reached" in text:
        return Lookup(name, None, [], "timeout")
    server = None
    addresses: list[str] = []
    in_answer = False
    for line in text.splitlines():
        if line.startswith("Server:"):
            server = line.split(":", 1)[1].strip()
        elif line.startswith(("Non-authoritative answer", "Name:")):
            in_answer = True
        elif in_answer and line.startswith("Address"):
            addresses.append(line.split(":", 1)[1].strip().split()[0])
    m = _CANT_FIND.search(text)
    return Lookup(name, server, addresses, m.group(2) if m else None)
