"""Parser of `lsusb` output: `Bus 001 Device 004: ID 12d1:1f01 Huawei Technologies ...`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"^Bus (?P<bus>\d{3}) Device (?P<dev>\d{3}): ID (?P<vid>[0-9a-fA-F]{4}):(?P<pid>[0-9a-fA-F]{4})"
    r"(?: (?P<name>.*))?$"
)


@dataclass(frozen=True)
class LsusbEntry:
    busnum: int
    devnum: int
    vid: str
    pid: str
    name: str

    @property
    def vid_pid(self) -> str:
        return f"{self.vid}:{self.pid}"


def parse_lsusb(text: str) -> list[LsusbEntry]:
    """One entry per device line; other lines (busybox banners, blanks) are skipped."""
    entries = []
    for line in text.replace("\r", "").splitlines():
        m = _LINE.match(line.strip())
        if m:
            entries.append(
                LsusbEntry(
                    busnum=int(m["bus"]),
                    devnum=int(m["dev"]),
                    vid=m["vid"].lower(),
                    pid=m["pid"].lower(),
                    name=(m["name"] or "").strip(),
                )
            )
    return entries
