"""Parsers of iproute2's JSON output (`ip -j addr`, `ip -j route`) into typed models."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    family: str  # inet | inet6
    local: str
    prefixlen: int
    scope: str
    dynamic: bool  # a DHCP/RA lease (valid_lft is finite), not a static address

    @property
    def interface(self) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        return ipaddress.ip_interface(f"{self.local}/{self.prefixlen}")

    @property
    def cidr(self) -> str:
        return f"{self.local}/{self.prefixlen}"


@dataclass(frozen=True)
class Link:
    ifname: str
    flags: tuple[str, ...]
    operstate: str
    address: str  # MAC
    addresses: tuple[Address, ...]

    def ipv4(self) -> list[Address]:
        return [a for a in self.addresses if a.family == "inet"]

    @property
    def up(self) -> bool:
        return "UP" in self.flags


@dataclass(frozen=True)
class Route:
    dst: str  # "default" or a prefix
    dev: str
    gateway: str | None
    protocol: str | None
    metric: int
    prefsrc: str | None

    @property
    def default(self) -> bool:
        return self.dst == "default"


def _load(text: str, what: str) -> list[dict]:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{what}: not JSON ({e}): {text[:120]!r}") from None
    if not isinstance(data, list):
        raise ValueError(f"{what}: expected a JSON list, got {type(data).__name__}")
    return data


def parse_addr(text: str) -> dict[str, Link]:
    """`ip -j addr [show dev X]` → links by interface name."""
    links = {}
    for entry in _load(text, "ip -j addr"):
        addrs = tuple(
            Address(
                a.get("family", ""),
                a.get("local", ""),
                int(a.get("prefixlen", 0)),
                a.get("scope", ""),
                bool(a.get("dynamic")) or a.get("valid_life_time", 4294967295) != 4294967295,
            )
            for a in entry.get("addr_info", [])
            if "local" in a
        )
        links[entry["ifname"]] = Link(
            entry["ifname"],
            tuple(entry.get("flags", [])),
            entry.get("operstate", "UNKNOWN"),
            entry.get("address", ""),
            addrs,
        )
    return links


def parse_route(text: str) -> list[Route]:
    """`ip -j route` → routes (metric 0 when the kernel prints none)."""
    return [
        Route(
            r["dst"],
            r.get("dev", ""),
            r.get("gateway"),
            r.get("protocol"),
            int(r.get("metric", 0)),
            r.get("prefsrc"),
        )
        for r in _load(text, "ip -j route")
    ]


def default_route(routes: list[Route]) -> Route | None:
    """The default route the kernel uses: the one with the lowest metric."""
    defaults = [r for r in routes if r.default]
    return min(defaults, key=lambda r: r.metric) if defaults else None
