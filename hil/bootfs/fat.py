"""Recognising a FAT filesystem from its boot sector, and reading its volume label.

Files are never read or written here (mtools does that); this only answers
"is this partition FAT, which kind, how large, and what is it called". The
label is read as blkid reads it: the volume-label entry of the root directory
first (what `mlabel` and Windows write), else the boot sector's copy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Literal

FatKind = Literal["FAT12", "FAT16", "FAT32"]
NO_NAME = "NO NAME"
_ATTR_VOLUME_ID = 0x08
_ATTR_LONG_NAME = 0x0F


@dataclass(frozen=True)
class FatVolume:
    kind: FatKind
    label: str  # "" when the volume has none
    size: int  # bytes the filesystem claims (sectors × sector size)
    bytes_per_sector: int


def read_fat_volume(f: BinaryIO, offset: int, limit: int) -> FatVolume | None:
    """The FAT filesystem at `offset`, or None if its first sector is not a FAT boot sector.

    `limit` is the size of the partition: a boot sector claiming more is not
    trusted (mtools would write past the partition into the next one).
    """
    boot = _pread(f, offset, 512)
    bpb = _parse_bpb(boot)
    if bpb is None:
        return None
    bps, spc, reserved, nfats, root_entries, total, fat_size, root_cluster = bpb
    root_dir_sectors = (root_entries * 32 + bps - 1) // bps
    data_sectors = total - (reserved + nfats * fat_size + root_dir_sectors)
    if data_sectors <= 0 or total * bps > limit:
        return None
    clusters = data_sectors // spc
    kind: FatKind = "FAT12" if clusters < 4085 else "FAT16" if clusters < 65525 else "FAT32"
    if kind == "FAT32":
        sig_at, label_at = 0x42, 0x47
        root_at = (reserved + nfats * fat_size + (root_cluster - 2) * spc) * bps
        root_len = spc * bps
    else:
        sig_at, label_at = 0x26, 0x2B
        root_at = (reserved + nfats * fat_size) * bps
        root_len = root_dir_sectors * bps
    label = _root_dir_label(_pread(f, offset + root_at, min(root_len, 64 * 1024)))
    if label is None and boot[sig_at] == 0x29:
        label = _label_text(boot[label_at : label_at + 11])
    return FatVolume(kind, label or "", total * bps, bps)


def is_fat_boot_sector(sector: bytes) -> bool:
    """True if `sector` is the boot sector of a FAT filesystem."""
    return _parse_bpb(sector) is not None


def _parse_bpb(boot: bytes) -> tuple[int, int, int, int, int, int, int, int] | None:
    """The BIOS parameter block's numbers, or None if this is not a FAT boot sector."""
    if boot[510:512] != b"\x55\xaa" or not (
        boot[0] == 0xE9 or (boot[0] == 0xEB and boot[2] == 0x90)
    ):
        return None
    bps, spc, reserved, nfats, root_entries, total16 = struct.unpack_from("<HBHBHH", boot, 11)
    (fat16,) = struct.unpack_from("<H", boot, 22)
    (total32,) = struct.unpack_from("<I", boot, 32)
    fat32, _, _, root_cluster = struct.unpack_from("<IHHI", boot, 36)
    total = total16 or total32
    fat_size = fat16 or fat32
    if (
        bps not in (512, 1024, 2048, 4096)
        or spc == 0
        or spc & (spc - 1)
        or reserved == 0
        or nfats == 0
        or total == 0
        or fat_size == 0
    ):
        return None
    if fat16 == 0 and root_cluster < 2:
        return None
    return bps, spc, reserved, nfats, root_entries, total, fat_size, root_cluster


def _root_dir_label(root: bytes) -> str | None:
    for i in range(0, len(root) - 31, 32):
        entry = root[i : i + 32]
        if entry[0] == 0x00:
            return None
        if entry[0] == 0xE5 or entry[11] == _ATTR_LONG_NAME:
            continue
        if entry[11] & _ATTR_VOLUME_ID:
            return _label_text(entry[:11])
    return None


def _label_text(raw: bytes) -> str:
    text = raw.decode("cp437", "replace").rstrip(" \0")
    return "" if text == NO_NAME else text


def _pread(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    return data + bytes(size - len(data))
