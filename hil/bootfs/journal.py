"""All-or-nothing writes into an image file: an undo journal beside it.

Before the first byte of the image changes, the old content of every block
about to be written is saved to `.IMAGE.hil-undo` and flushed to disk. If a
write fails (I/O error, a full disk under a sparse image), the old blocks are
put back at once; if the process dies half-way (killed, power cut), the next
`hil image` command on that image finds the journal and puts them back. The
journal is deleted only once the new content is on disk, so at every moment
the image is either what it was or what it is meant to become.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from hil.bootfs.errors import ImageError, ImageWriteError

MAGIC = b"HIL-UNDO-1\n"
_RECORD = struct.Struct("<QI")


@dataclass(frozen=True)
class BlockChange:
    """New bytes for the image at `offset`, and the bytes they replace."""

    offset: int
    old: bytes
    new: bytes


def journal_path(image: Path) -> Path:
    return image.with_name(f".{image.name}.hil-undo")


def write_blocks(fd: int, image: Path, changes: list[BlockChange]) -> None:
    """Write `changes` into the image open as `fd`, all or nothing."""
    if not changes:
        return
    journal = journal_path(image)
    _write_journal(journal, fd, changes, image)
    done = 0
    try:
        for change in changes:
            _pwrite_all(fd, change.new, change.offset)
            done += 1
        os.fsync(fd)
    except OSError as e:
        try:
            for change in changes[: done + 1]:
                _pwrite_all(fd, change.old, change.offset)
            os.fsync(fd)
        except OSError as again:
            raise ImageWriteError(
                f"{image}: write failed ({e.strerror or e}), and so did undoing it "
                f"({again.strerror or again}); the next `hil image` command on this image "
                f"restores it from {journal.name}"
            ) from None
        _remove(journal)
        raise ImageWriteError(
            f"{image}: write failed ({e.strerror or e}); the image was left as it was"
        ) from None
    _remove(journal)


def recover(fd: int, image: Path) -> bool:
    """Undo a write that was interrupted (its journal is still there). True if it did."""
    journal = journal_path(image)
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise ImageError(f"{image}: cannot read its undo journal {journal}: {e.strerror}") from None
    parsed = _parse(raw)
    if parsed is None:
        # Cut short while it was being written: the image was not touched yet.
        _remove(journal)
        return False
    identity, changes = parsed
    if identity != _identity(fd):
        raise ImageError(
            f"{image}: {journal.name} belongs to another file of that name; "
            "remove it if this image is intact"
        )
    try:
        for offset, old in changes:
            _pwrite_all(fd, old, offset)
        os.fsync(fd)
    except OSError as e:
        raise ImageWriteError(f"{image}: cannot undo an interrupted write: {e.strerror}") from None
    _remove(journal)
    return True


def _identity(fd: int) -> dict[str, int]:
    st = os.fstat(fd)
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size}


def _write_journal(journal: Path, fd: int, changes: list[BlockChange], image: Path) -> None:
    body = bytearray(MAGIC)
    body += json.dumps(_identity(fd)).encode() + b"\n"
    for change in changes:
        body += _RECORD.pack(change.offset, len(change.old)) + change.old
    body += hashlib.sha256(body).digest()
    try:
        with open(journal, "xb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(journal.parent)
    except FileExistsError:
        raise ImageError(
            f"{image}: {journal.name} exists: another `hil image inject` is writing this image"
        ) from None
    except OSError as e:
        _remove(journal)
        raise ImageWriteError(
            f"{image}: cannot write the undo journal {journal}: {e.strerror}; "
            "the image was left as it was"
        ) from None


def _parse(raw: bytes) -> tuple[dict[str, int], list[tuple[int, bytes]]] | None:
    if len(raw) < len(MAGIC) + 32 or not raw.startswith(MAGIC):
        return None
    body, digest = raw[:-32], raw[-32:]
    if hashlib.sha256(body).digest() != digest:
        return None
    pos = body.index(b"\n", len(MAGIC)) + 1
    identity = json.loads(body[len(MAGIC) : pos])
    changes: list[tuple[int, bytes]] = []
    while pos < len(body):
        offset, length = _RECORD.unpack_from(body, pos)
        pos += _RECORD.size
        changes.append((offset, bytes(body[pos : pos + length])))
        pos += length
    return identity, changes


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _fsync_dir(path: Path) -> None:
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _remove(journal: Path) -> None:
    try:
        journal.unlink()
        _fsync_dir(journal.parent)
    except FileNotFoundError:
        pass
