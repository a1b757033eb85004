"""Parsers of `chronyc -c sources` / `chronyc -c tracking` (chrony 4.x CSV output)
and `timedatectl show` into typed models.

CSV (`-c`) is chronyc's machine format; fixtures in fixtures/chrony/ were
recorded from the real chronyc 4.3 (see fixtures/chrony/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

#: chronyc's LastRx for a source never heard from
NEVER = 4294967295


@dataclass(frozen=True)
class ChronySource:
    mode: str  # ^ server, = peer, # reference clock
    state: str  # * selected, + combined, - not combined, ? unreachable, x falseticker, ~ jittery
    name: str  # address, or the configured name with `chronyc -N`
    stratum: int
    poll: int
    reach: int  # the reach register as chronyc prints it (octal digits, 377 = last 8 answered)
    last_rx: int | None  # seconds since the last sample; None: never

    @property
    def selected(self) -> bool:
        return self.state == "*"

    @property
    def reachable(self) -> bool:
        return self.reach != 0


def parse_sources_csv(text: str) -> list[ChronySource]:
    """`chronyc -c [-N] sources`."""
    sources = []
    for line in text.splitlines():
        fields = line.strip().split(",")
        if len(fields) < 10:
            continue
        last = int(fields[6])
        sources.append(
            ChronySource(
                fields[0],
                fields[1],
                fields[2],
                int(fields[3]),
                int(fields[4]),
                int(fields[5]),
                None if last == NEVER else last,
            )
        )
    return sources


@dataclass(frozen=True)
class ChronyTracking:
    reference_id: str
    reference: str  # the address (or name) of the reference, "" when none
    stratum: int
    leap_status: str  # Normal, Insert second, Delete second, Not synchronised

    @property
    def synchronised(self) -> bool:
        return self.leap_status != "Not synchronised" and self.reference_id != "00000000"


def parse_tracking_csv(text: str) -> ChronyTracking:
    """`chronyc -c tracking`."""
    line = next((ln for ln in text.splitlines() if ln.count(",") >= 13), None)
    if line is None:
        raise ValueError(f"not chronyc -c tracking output: {text[:80]!r}")
    fields = line.split(",")
    return ChronyTracking(fields[0], fields[1], int(fields[2]), fields[13])


def parse_timedatectl_show(text: str) -> dict[str, str]:
    """`timedatectl show`: KEY=VALUE lines."""
    props = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props
