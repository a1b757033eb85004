"""The wireless regulatory database (wireless-regdb's `regulatory.db`), read as the kernel does.

The simulated board takes its regulatory domains from the real database that
Debian's `wireless-regdb` package installs, so `iw reg get` and the channels a
country allows are the kernel's, not ours. The binary layout is the one
cfg80211 loads with `request_firmware` (net/wireless/reg.c, "fwdb"): a header
(magic `RGDB`, version 20), country entries (alpha2, collection pointer),
collections (DFS region, rule pointers) and rules (flags, max EIRP in mBm,
start/end/max bandwidth in kHz, optional CAC timeout in seconds). Pointers are
stored shifted right by 2.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path

REGDB_PATH = Path("/lib/firmware/regulatory.db")
MAGIC = 0x52474442  # "RGDB"
VERSION = 20

#: fwdb rule flags → the names `iw reg get` prints, in iw's order
_FLAG_NAMES = [(1 << 0, "NO-OFDM"), (1 << 1, "NO-OUTDOOR"), (1 << 2, "DFS"), (1 << 4, "AUTO-BW")]
FLAG_NO_IR = 1 << 3
DFS_REGIONS = {0: "DFS-UNSET", 1: "DFS-FCC", 2: "DFS-ETSI", 3: "DFS-JP"}


class RegdbError(RuntimeError):
    """regulatory.db is missing or not in the format the kernel reads."""


@dataclass(frozen=True)
class RegRule:
    start_khz: int
    end_khz: int
    max_bw_khz: int
    max_eirp_mbm: int
    flags: int
    cac_ms: int = 0

    @property
    def no_ir(self) -> bool:
        return bool(self.flags & FLAG_NO_IR)

    @property
    def dfs(self) -> bool:
        return bool(self.flags & (1 << 2))

    def flag_names(self) -> list[str]:
        names = [name for bit, name in _FLAG_NAMES if self.flags & bit]
        if self.no_ir:
            # the kernel sets NL80211_RRF_NO_IR alone, which iw prints as PASSIVE-SCAN
            names.append("PASSIVE-SCAN")
        return names

    def fits(self, center_mhz: int, width_mhz: int = 20) -> bool:
        """cfg80211's reg_does_bw_fit: the whole channel lies inside the rule."""
        low, high = (center_mhz - width_mhz / 2) * 1000, (center_mhz + width_mhz / 2) * 1000
        return (
            self.start_khz <= low and high <= self.end_khz and width_mhz * 1000 <= self.max_bw_khz
        )


@dataclass(frozen=True)
class RegDomain:
    alpha2: str
    dfs_region: int
    rules: tuple[RegRule, ...]

    @property
    def dfs_name(self) -> str:
        return DFS_REGIONS.get(self.dfs_region, "DFS-invalid")

    def rule_for(self, center_mhz: int, width_mhz: int = 20) -> RegRule | None:
        return next((r for r in self.rules if r.fits(center_mhz, width_mhz)), None)


def parse(data: bytes) -> dict[str, RegDomain]:
    """Every country of a regulatory.db image, by alpha2 ("00" is the world domain)."""
    if len(data) < 8:
        raise RegdbError("regulatory.db: shorter than its header")
    magic, version = struct.unpack_from(">II", data, 0)
    if magic != MAGIC or version != VERSION:
        raise RegdbError(f"regulatory.db: magic {magic:#x} version {version}, expected RGDB v20")
    domains: dict[str, RegDomain] = {}
    offset = 8
    while offset + 4 <= len(data):
        alpha2 = data[offset : offset + 2]
        (coll_ptr,) = struct.unpack_from(">H", data, offset + 2)
        if alpha2 == b"\0\0":
            break
        name = alpha2.decode("ascii")
        domains[name] = _collection(data, name, coll_ptr << 2)
        offset += 4
    return domains


def _collection(data: bytes, alpha2: str, at: int) -> RegDomain:
    length, n_rules, dfs_region = struct.unpack_from(">BBB", data, at)
    rule_ptrs = at + ((length + 1) // 2) * 2  # rule pointers follow, aligned to 2
    rules = []
    for i in range(n_rules):
        (ptr,) = struct.unpack_from(">H", data, rule_ptrs + 2 * i)
        rules.append(_rule(data, ptr << 2))
    return RegDomain(alpha2, dfs_region, tuple(rules))


def _rule(data: bytes, at: int) -> RegRule:
    length, flags, eirp, start, end, max_bw = struct.unpack_from(">BBHIII", data, at)
    cac = struct.unpack_from(">H", data, at + 16)[0] * 1000 if length >= 18 else 0
    return RegRule(start, end, max_bw, eirp, flags, cac)


@functools.cache
def load(path: Path = REGDB_PATH) -> dict[str, RegDomain]:
    """The installed database (Debian's wireless-regdb), parsed once."""
    try:
        return parse(path.read_bytes())
    except OSError as e:
        raise RegdbError(
            f"{path}: {e.strerror} (the sim's regulatory domains come from the "
            "wireless-regdb package; `make setup` installs it)"
        ) from None


def render_reg_get(domain: RegDomain) -> str:
    """`iw reg get` for a global domain, as iw 5.x prints it (reg.c print_reg_handler)."""
    lines = ["global", f"country {domain.alpha2}: {domain.dfs_name}"]
    for r in domain.rules:
        gain = "N/A"  # regulatory.db carries no antenna gain
        cac = f"({r.cac_ms} ms)" if r.dfs else "(N/A)"
        line = (
            f"\t({r.start_khz // 1000} - {r.end_khz // 1000} @ {r.max_bw_khz // 1000}), "
            f"({gain}, {r.max_eirp_mbm // 100}), {cac}"
        )
        line += "".join(f", {name}" for name in r.flag_names())
        lines.append(line)
    return "\n".join(lines) + "\n\n"
