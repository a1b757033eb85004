"""chronyd and its sources, as `balena-ntp-config` configures them.

Sources come from config.json `ntpServers` (space separated), else the four
default pools `0-3.resinio.pool.ntp.org`; `"null"` leaves none. Each is a
`pool NAME iburst minpoll 14 maxpoll 14 maxsources 1` line in
`/run/chrony/*.sources`. A source is usable once its name resolves (through
dnsmasq) and its server answers on UDP 123; with iburst the clock
synchronises a few world seconds after the first answer.
"""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.sim.lab_net import DEFAULT_NTP_POOLS, NetFailure
from hil.sim.services.config_json import ConfigVars

if TYPE_CHECKING:
    from hil.sim.services import Services

SOURCES_DIR = "/run/chrony"
#: world seconds from the first answer of a source to a synchronised clock (iburst)
SYNC_AFTER = 8.0


@dataclass
class SourceState:
    name: str
    address: str | None  # None: the name does not resolve (chrony does not list it)
    reachable: bool
    selected: bool = False

    @property
    def stratum(self) -> int:
        return 2 if self.reachable else 0

    def reference_id(self) -> str:
        if not self.address:
            return "00000000"
        return f"{int(ipaddress.IPv4Address(self.address)):08X}"

    def offset_ns(self) -> int:
        return zlib.crc32(self.name.encode()) % 900 - 450


class Chrony:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.world = services.world
        self.running = False
        self.names: list[str] = []
        self.started = 0.0

    # -- balena-ntp-config ----------------------------------------------
    def configure(self, config: ConfigVars) -> None:
        fs = self.world.fs
        for name in ("added_config.sources", "default.sources"):
            if fs.isfile(f"{SOURCES_DIR}/{name}"):
                fs.remove(f"{SOURCES_DIR}/{name}")
        fs.mkdir(SOURCES_DIR)
        if config.ntp_servers is None:
            servers, target = DEFAULT_NTP_POOLS, "default.sources"
        else:
            servers, target = list(config.ntp_servers), "added_config.sources"
        if servers:
            fs.write(
                f"{SOURCES_DIR}/{target}",
                "".join(f"pool {s} iburst minpoll 14 maxpoll 14 maxsources 1\n" for s in servers),
            )
        self.reload_sources()

    def reload_sources(self) -> None:
        """`chrony-helper update-sources`: chronyd takes the sources files' lines."""
        fs = self.world.fs
        names: list[str] = []
        if fs.isdir(SOURCES_DIR):
            for f in fs.listdir(SOURCES_DIR):
                if f.endswith(".sources"):
                    for line in fs.read_text(f"{SOURCES_DIR}/{f}").splitlines():
                        parts = line.split()
                        if len(parts) >= 2 and parts[0] in ("pool", "server"):
                            names.append(parts[1])
        if names != self.names:
            self.names = names
            self.started = self.services.now()

    # -- chronyd ----------------------------------------------------------
    def start(self) -> None:
        journal = self.services.journal
        journal.start("chronyd")
        journal.log(
            "chronyd",
            "chronyd version 4.2 starting (+CMDMON +NTP +REFCLOCK +RTC -PRIVDROP -SCFILTER "
            "-SIGND +ASYNCDNS -NTS +SECHASH +IPV6 -DEBUG)",
        )
        self.running = True
        self.started = self.services.now()

    def stop(self) -> None:
        self.running = False

    def sources(self) -> list[SourceState]:
        """The sources chronyd has now (resolved ones only, as chronyc lists them)."""
        lab = self.services.lab
        states = []
        for name in self.names:
            try:
                address = self._resolve(name)
            except NetFailure:
                address = None
            reachable = address is not None and lab.ntp_answers(address)
            states.append(SourceState(name, address, reachable))
        if self.synchronised_with(states):
            best = next(s for s in states if s.reachable)
            best.selected = True
        return states

    def _resolve(self, name: str) -> str | None:
        try:
            ipaddress.ip_address(name)
            return name
        except ValueError:
            return self.services.dnsmasq.resolve(name)

    def synchronised_with(self, states: list[SourceState]) -> bool:
        if not self.running or not any(s.reachable for s in states):
            return False
        return self.services.now() - self.started >= SYNC_AFTER

    def synchronised(self) -> bool:
        return self.synchronised_with(self.sources())

    def reference(self) -> SourceState | None:
        return next((s for s in self.sources() if s.selected), None)
