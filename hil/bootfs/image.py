"""The boot partition of a raw disk image: find it, list and read it, write into it.

Finding: the partition table (MBR or GPT) lists the partitions; the first
whose FAT volume label is `resin-boot` or `resin-flash` is the boot partition,
else the first FAT partition of all.

Writing is all-or-nothing and costs the same for a 1 GiB or a 32 GiB image:
1. every input is read and checked first (`hil.bootfs.layout`);
2. the partition alone (tens of MiB, not the image) is copied, holes kept, to
   a scratch file, and mtools makes every change there — a file that does not
   fit, or any other mtools failure, leaves the image untouched;
3. the blocks that differ are written back into the image under an undo
   journal (`hil.bootfs.journal`): only those blocks, so the image stays as
   sparse as it was, and a failure half-way puts the old blocks back.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hil.bootfs import journal
from hil.bootfs.errors import ImageError
from hil.bootfs.fat import FatVolume, read_fat_volume
from hil.bootfs.layout import BootFile, merge_config_json
from hil.bootfs.mtools import Mtools, MtoolsError
from hil.bootfs.partitions import Partition, read_partition_table

BOOT_LABELS = ("resin-boot", "resin-flash")
BLOCK = 4096
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BootPartition:
    """The FAT boot partition of the image at `image`."""

    image: Path
    partition: Partition
    volume: FatVolume

    @classmethod
    def find(cls, image: str | Path) -> BootPartition:
        """Locate the boot partition of `image` (raises `ImageError` with the reason)."""
        path = Path(image)
        _recover_if_interrupted(path)
        with _open_image(path, write=False) as fd, os.fdopen(os.dup(fd), "rb") as f:
            size = os.fstat(fd).st_size
            table = read_partition_table(f, size, str(path))
            fats = [(p, v) for p in table.partitions if (v := read_fat_volume(f, p.start, p.size))]
        if not table.partitions:
            raise ImageError(f"{path}: the {table.scheme.upper()} partition table is empty")
        if not fats:
            raise ImageError(
                f"{path}: no FAT partition among its {len(table.partitions)} partitions "
                f"({table.scheme.upper()})"
            )
        part, volume = next(((p, v) for p, v in fats if v.label in BOOT_LABELS), fats[0])
        return cls(path, part, volume)

    def describe(self) -> str:
        label = self.volume.label or "no label"
        return f"partition {self.partition.number} ({self.volume.kind}, {label})"

    # -- reading -------------------------------------------------------
    def _mtools(self) -> Mtools:
        return Mtools(self.image, self.partition.start)

    def listdir(self, directory: str = "/") -> list[str]:
        """Names in `directory` of the partition; subdirectories end with `/`.

        A file instead of a directory lists as its own name, as `ls FILE` does.
        """
        fs = self._mtools()
        try:
            return fs.entries(directory)
        except MtoolsError as e:
            if e.not_found and self._kind(fs, directory) == "file":
                return [directory.strip("/").rpartition("/")[2]]
            raise self._error(directory, e) from None

    def read(self, path: str) -> bytes:
        """The content of the file at `path`."""
        fs = self._mtools()
        if self._kind(fs, path) == "dir":
            raise ImageError(f"{self._where(path)}: is a directory")
        try:
            return fs.read(path)
        except MtoolsError as e:
            raise self._error(path, e) from None

    @staticmethod
    def _kind(fs: Mtools, path: str) -> str | None:
        """ "file", "dir" or None (missing), looked up in the parent directory."""
        parent, _, name = path.strip("/").rpartition("/")
        if not name:
            return "dir"
        try:
            entries = fs.entries(parent)
        except MtoolsError:
            return None
        for entry in entries:
            if entry.casefold() == name.casefold():
                return "file"
            if entry.casefold() == (name + "/").casefold():
                return "dir"
        return None

    def _error(self, path: str, e: MtoolsError) -> ImageError:
        if e.not_found:
            return ImageError(f"{self._where(path)}: no such file or directory")
        return ImageError(f"{self._where(path)}: {e.detail}")

    # -- writing -------------------------------------------------------
    def write(self, files: Sequence[BootFile]) -> None:
        """Put `files` into the partition, all of them or none (see the module doc)."""
        if not files:
            return
        with _open_image(self.image, write=True) as fd:
            _recover_if_interrupted(self.image, fd)
            with tempfile.TemporaryDirectory(prefix="hil-bootfs-") as tmp:
                scratch = Path(tmp) / "partition.img"
                _copy_sparse(fd, self.partition.start, self.partition.size, scratch)
                self._apply(Mtools(scratch), files, Path(tmp) / "stage")
                if scratch.stat().st_size != self.partition.size:
                    raise ImageError(
                        f"{self.image}: mtools wrote past the end of {self.describe()}"
                    )
                changes = _changed_blocks(fd, self.partition.start, scratch)
            journal.write_blocks(fd, self.image, changes)

    def _apply(self, fs: Mtools, files: Sequence[BootFile], stage: Path) -> None:
        """Make the changes on the scratch copy; any failure leaves the image as it is."""
        try:
            self._make_dirs(fs, {f.directory for f in files if f.directory})
            by_dir: dict[str, list[Path]] = {}
            for f in files:
                data = f.data
                if f.merge_json:
                    data = merge_config_json(
                        self._existing(fs, f.path), f.data, self._where(f.path)
                    )
                self._check_not_a_dir(fs, f)
                local = stage / f.directory / f.name
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
                by_dir.setdefault(f.directory, []).append(local)
            for directory, sources in by_dir.items():
                fs.put(sources, directory)
        except MtoolsError as e:
            if e.disk_full:
                need = sum(len(f.data) for f in files)
                raise ImageError(
                    f"{self.image}: {self.describe()} has no room for the files "
                    f"({need} bytes to write, {self._mtools().free_bytes()} bytes free); "
                    "image unchanged"
                ) from None
            raise ImageError(f"{self.image}: {self.describe()}: {e}; image unchanged") from None

    def _where(self, path: str) -> str:
        return f"{self.image}: {self.describe()}: {path}"

    def _make_dirs(self, fs: Mtools, directories: set[str]) -> None:
        missing = []
        for d in sorted(directories):
            kind = self._kind(fs, d)
            if kind == "file":
                raise ImageError(f"{self._where(d)}: is a file, not a directory; image unchanged")
            if kind is None:
                missing.append(d)
        fs.mkdir(missing)

    def _check_not_a_dir(self, fs: Mtools, f: BootFile) -> None:
        if self._kind(fs, f.path) == "dir":
            raise ImageError(f"{self._where(f.path)}: is a directory; image unchanged")

    @staticmethod
    def _existing(fs: Mtools, path: str) -> bytes | None:
        try:
            return fs.read(path)
        except MtoolsError as e:
            if e.not_found:
                return None
            raise


@contextlib.contextmanager
def _open_image(path: Path, write: bool) -> Iterator[int]:
    """The image file, open and locked (shared to read, exclusive to write)."""
    try:
        fd = os.open(path, os.O_RDWR if write else os.O_RDONLY)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not a disk image") from None
    except OSError as e:
        raise ImageError(
            f"{path}: cannot open for {'writing' if write else 'reading'}: {e.strerror}"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ImageError(f"{path}: is a directory, not a disk image")
        if not stat.S_ISREG(mode):
            # A device (an SD card) gets an injected copy of its image instead: the undo
            # journal and hole detection are for image files.
            raise ImageError(f"{path}: not a disk image file")
        fcntl.flock(fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)


def _recover_if_interrupted(path: Path, fd: int | None = None) -> None:
    """Finish the undo of a write that was interrupted, before anything reads the image.

    Without `fd`, this opens the image itself: call it before taking a shared lock.
    """
    if not journal.journal_path(path).exists():
        return
    if fd is None:
        with _open_image(path, write=True) as wfd:
            journal.recover(wfd, path)
    else:
        journal.recover(fd, path)


def _copy_sparse(fd: int, start: int, size: int, dest: Path) -> None:
    """Copy bytes [start, start+size) of `fd` to `dest`, skipping the holes."""
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(out, size)
        for offset, length in _data_ranges(fd, start, size):
            copied = 0
            while copied < length:
                n = os.copy_file_range(
                    fd, out, length - copied, offset + copied, offset + copied - start
                )
                if n == 0:
                    break
                copied += n
    finally:
        os.close(out)


def _data_ranges(fd: int, start: int, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of the parts of [start, start+size) that are not holes."""
    end = start + size
    pos = start
    while pos < end:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # only a hole from here on
                return
            raise
        if data >= end:
            return
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
        yield data, hole - data
        pos = hole


def _changed_blocks(fd: int, start: int, scratch: Path) -> list[journal.BlockChange]:
    """The image blocks (aligned to the image's own 4 KiB grid) that the scratch copy changed."""
    changes: list[journal.BlockChange] = []
    size = scratch.stat().st_size
    sfd = os.open(scratch, os.O_RDONLY)
    try:
        # Only where the scratch copy holds data can it differ: holes stayed holes.
        for offset, length in _data_ranges(sfd, 0, size):
            first = (start + offset) // BLOCK * BLOCK
            last = -(-(start + offset + length) // BLOCK) * BLOCK
            for chunk_at in range(first, last, _CHUNK):
                lo = max(chunk_at, start)
                hi = min(chunk_at + _CHUNK, last, start + size)
                old = os.pread(fd, hi - lo, lo)
                new = os.pread(sfd, hi - lo, lo - start)
                if old != new:
                    changes.extend(_diff(lo, old, new))
    finally:
        os.close(sfd)
    return _coalesce(changes)


def _diff(at: int, old: bytes, new: bytes) -> Iterator[journal.BlockChange]:
    pos = 0
    while pos < len(old):
        step = BLOCK - (at + pos) % BLOCK
        a, b = old[pos : pos + step], new[pos : pos + step]
        if a != b:
            yield journal.BlockChange(at + pos, a, b)
        pos += step


def _coalesce(changes: list[journal.BlockChange]) -> list[journal.BlockChange]:
    """Adjacent changed blocks as one write (fewer syscalls, a shorter journal)."""
    out: list[journal.BlockChange] = []
    for c in changes:
        if out and out[-1].offset + len(out[-1].new) == c.offset:
            last = out.pop()
            c = journal.BlockChange(last.offset, last.old + c.old, last.new + c.new)
        out.append(c)
    return out
