"""Partition tables of a raw disk image: MBR (with logical partitions) and GPT.

Only what finding the boot partition needs: where each partition starts, how
long it is, its type and (GPT) name. Everything is checked against the image's
size, so a truncated image is reported instead of being read past its end.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Literal

from hil.bootfs.errors import ImageError
from hil.bootfs.fat import is_fat_boot_sector

SECTOR = 512
MBR_SIGNATURE = b"\x55\xaa"
GPT_SIGNATURE = b"EFI PART"
PROTECTIVE_MBR = 0xEE
EXTENDED_TYPES = {0x05, 0x0F, 0x85}
#: logical partitions followed before we call an EBR chain a loop
MAX_LOGICAL = 128


@dataclass(frozen=True)
class Partition:
    """One partition: `number` as Linux numbers it (logical ones from 5)."""

    number: int
    start: int  # bytes from the start of the image
    size: int  # bytes
    type: str  # MBR: "0x0c"; GPT: the type GUID
    name: str = ""  # GPT partition name

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class PartitionTable:
    scheme: Literal["mbr", "gpt"]
    partitions: tuple[Partition, ...]


def read_partition_table(f: BinaryIO, image_size: int, image: str) -> PartitionTable:
    """The partition table of the image open as `f` (raises `ImageError`)."""
    if image_size < SECTOR:
        raise ImageError(f"{image}: not a disk image ({image_size} bytes, no partition table)")
    mbr = _pread(f, 0, SECTOR)
    if mbr[510:512] != MBR_SIGNATURE:
        raise ImageError(f"{image}: not a disk image (no MBR or GPT partition table)")
    entries = [_mbr_entry(mbr, i) for i in range(4)]
    no_entries = all(ptype == 0 for _, ptype, _, _ in entries)
    if is_fat_boot_sector(mbr) and (no_entries or any(s not in (0, 0x80) for s, *_ in entries)):
        raise ImageError(
            f"{image}: not a disk image (a bare FAT filesystem, no partition table around it)"
        )
    if any(status not in (0x00, 0x80) for status, *_ in entries):
        raise ImageError(
            f"{image}: not a disk image (sector 0 holds no partition table; "
            "a bare filesystem without partitions?)"
        )
    if any(ptype == PROTECTIVE_MBR for _, ptype, _, _ in entries):
        return PartitionTable("gpt", _gpt_partitions(f, image_size, image))
    partitions: list[Partition] = []
    for number, (_, ptype, lba, count) in enumerate(entries, start=1):
        if ptype == 0 or count == 0:
            continue
        if ptype in EXTENDED_TYPES:
            partitions.extend(_logical_partitions(f, lba, count, image_size, image))
            continue
        partitions.append(
            _checked(
                Partition(number, lba * SECTOR, count * SECTOR, f"0x{ptype:02x}"), image_size, image
            )
        )
    return PartitionTable("mbr", tuple(partitions))


def _mbr_entry(sector: bytes, index: int) -> tuple[int, int, int, int]:
    """(status, type, first LBA, sector count) of entry `index` of an MBR/EBR."""
    off = 446 + 16 * index
    status, ptype = sector[off], sector[off + 4]
    lba, count = struct.unpack_from("<II", sector, off + 8)
    return status, ptype, lba, count


def _logical_partitions(
    f: BinaryIO, ext_lba: int, ext_count: int, image_size: int, image: str
) -> list[Partition]:
    """Walk the EBR chain of an extended partition (logical partitions are 5, 6, …)."""
    found: list[Partition] = []
    ebr_lba = ext_lba
    seen: set[int] = set()
    while len(found) < MAX_LOGICAL:
        if ebr_lba in seen or (ebr_lba + 1) * SECTOR > image_size:
            raise ImageError(f"{image}: broken chain of logical partitions at sector {ebr_lba}")
        seen.add(ebr_lba)
        ebr = _pread(f, ebr_lba * SECTOR, SECTOR)
        if ebr[510:512] != MBR_SIGNATURE:
            raise ImageError(f"{image}: broken chain of logical partitions at sector {ebr_lba}")
        _, ptype, rel, count = _mbr_entry(ebr, 0)
        if ptype and count:
            part = Partition(
                5 + len(found), (ebr_lba + rel) * SECTOR, count * SECTOR, f"0x{ptype:02x}"
            )
            found.append(_checked(part, image_size, image))
        _, next_type, next_rel, _ = _mbr_entry(ebr, 1)
        if not next_type or next_rel == 0 or next_rel >= ext_count:
            return found
        ebr_lba = ext_lba + next_rel
    raise ImageError(f"{image}: more than {MAX_LOGICAL} logical partitions (a loop?)")


def _gpt_partitions(f: BinaryIO, image_size: int, image: str) -> tuple[Partition, ...]:
    """Partitions of a GPT: the primary header, else the backup at the end of the disk."""
    problems: list[str] = []
    for sector in (512, 4096):
        for lba in (1, image_size // sector - 1):
            if (lba + 1) * sector > image_size:
                continue
            header = _pread(f, lba * sector, sector)
            if header[:8] != GPT_SIGNATURE:
                continue
            try:
                return _gpt_entries(f, header, sector, image_size, image)
            except _BadGpt as e:
                problems.append(f"{'primary' if lba == 1 else 'backup'} GPT header: {e}")
    detail = "; ".join(problems) or "no GPT header behind the protective MBR"
    raise ImageError(f"{image}: corrupt GPT ({detail})")


class _BadGpt(Exception):
    pass


def _gpt_entries(
    f: BinaryIO, header: bytes, sector: int, image_size: int, image: str
) -> tuple[Partition, ...]:
    (header_size,) = struct.unpack_from("<I", header, 12)
    if not 92 <= header_size <= sector:
        raise _BadGpt(f"header size {header_size}")
    (crc,) = struct.unpack_from("<I", header, 16)
    if zlib.crc32(header[:16] + b"\0\0\0\0" + header[20:header_size]) != crc:
        raise _BadGpt("header checksum mismatch")
    entries_lba, count, entry_size, entries_crc = struct.unpack_from("<QIII", header, 72)
    if entry_size < 128 or count > 4096 or (entries_lba * sector + count * entry_size) > image_size:
        raise _BadGpt("partition entry array out of range")
    table = _pread(f, entries_lba * sector, count * entry_size)
    if zlib.crc32(table) != entries_crc:
        raise _BadGpt("partition entry array checksum mismatch")
    partitions: list[Partition] = []
    for i in range(count):
        entry = table[i * entry_size : (i + 1) * entry_size]
        type_guid = entry[:16]
        if type_guid == bytes(16):
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        if last < first:
            raise _BadGpt(f"partition {i + 1} ends before it starts")
        name = entry[56:128].decode("utf-16-le", "replace").split("\0", 1)[0]
        part = Partition(
            i + 1,
            first * sector,
            (last - first + 1) * sector,
            str(uuid.UUID(bytes_le=type_guid)),
            name,
        )
        partitions.append(_checked(part, image_size, image))
    return tuple(partitions)


def _checked(part: Partition, image_size: int, image: str) -> Partition:
    if part.start == 0 or part.end > image_size:
        raise ImageError(
            f"{image}: partition {part.number} (bytes {part.start}-{part.end}) lies outside "
            f"the image ({image_size} bytes; truncated?)"
        )
    return part


def _pread(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    return data + bytes(size - len(data))
