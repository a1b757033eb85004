"""All-or-nothing image writes: a failure or a crash half-way leaves the image as it was."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hil.bootfs import BootFile, BootPartition, ImageError, ImageWriteError
from hil.bootfs import journal as journal_mod
from hil.bootfs.journal import journal_path
from tests.bootfs_images import MiB, digest, fsck, make_image, mtype, offset_of

pytestmark = pytest.mark.real
REPO = Path(__file__).resolve().parent.parent
FILES = [
    BootFile("system-connections/a", b"a" * 5000, 0o600),
    BootFile("system-connections/b", b"b" * 70000, 0o600),
]


def test_a_failing_write_is_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = make_image(tmp_path / "a.img")
    before = digest(img)
    real_pwrite = os.pwrite
    calls = []

    def failing_pwrite(fd, data, offset):
        calls.append(offset)
        if len(calls) == 3:  # two writes landed, the third hits a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(journal_mod.os, "pwrite", failing_pwrite)
    with pytest.raises(ImageWriteError, match=r"No space left on device.*left as it was"):
        BootPartition.find(img).write(FILES)
    assert len(calls) > 3  # the undo wrote too
    assert digest(img) == before
    assert not journal_path(img).exists()


CRASH = textwrap.dedent(
    """
    import os, sys
    from hil.bootfs import BootFile, BootPartition
    from hil.bootfs import journal
    real = os.pwrite
    n = 0
    def pwrite(fd, data, offset):
        global n
        n += 1
        if n == 3:
            os._exit(9)  # killed half-way: no cleanup runs
        return real(fd, data, offset)
    journal.os.pwrite = pwrite
    BootPartition.find(sys.argv[1]).write([
        BootFile("system-connections/a", b"a" * 5000, 0o600),
        BootFile("system-connections/b", b"b" * 70000, 0o600),
    ])
    """
)


def test_a_crash_half_way_is_undone_by_the_next_command(tmp_path: Path, hil_cmd) -> None:
    img = make_image(tmp_path / "a.img")
    before = digest(img)
    r = subprocess.run([sys.executable, "-c", CRASH, str(img)], cwd=REPO, capture_output=True)
    assert r.returncode == 9, r.stderr
    assert journal_path(img).exists()
    assert digest(img) != before  # the crash left a half-written image behind
    ls = subprocess.run([*hil_cmd, "image", "ls", str(img)], capture_output=True, text=True)
    assert ls.returncode == 0, ls.stderr
    assert digest(img) == before
    assert not journal_path(img).exists()
    off = offset_of(img, 1)
    assert fsck(img, off, 40 * MiB, tmp_path).returncode == 0


def test_a_journal_cut_short_is_discarded(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    before = digest(img)
    journal_path(img).write_bytes(journal_mod.MAGIC + b'{"dev": 1')  # died while writing it
    BootPartition.find(img).write([BootFile("x", b"x")])
    assert mtype(img, offset_of(img, 1), "x") == b"x"
    assert not journal_path(img).exists()
    assert digest(img) != before


def test_a_journal_of_another_file_is_refused(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    BootPartition.find(img).write([BootFile("x", b"x")])
    other = make_image(tmp_path / "other.img")
    fd = os.open(other, os.O_RDWR)
    try:
        change = journal_mod.BlockChange(0, b"\0" * 16, b"\1" * 16)
        journal_mod._write_journal(journal_path(img), fd, [change], other)
    finally:
        os.close(fd)
    with pytest.raises(ImageError, match="belongs to another file"):
        BootPartition.find(img)


def test_concurrent_injections_both_land(tmp_path: Path, hil_cmd) -> None:
    img = make_image(tmp_path / "a.img")
    procs = []
    for name in ("one", "two", "three"):
        src = tmp_path / name
        src.write_text(f"[connection]\nid={name}\ntype=ethernet\n")
        procs.append(
            subprocess.Popen(
                [*hil_cmd, "image", "inject", str(img), "--connection", str(src)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    off = offset_of(img, 1)
    for name in ("one", "two", "three"):
        assert mtype(img, off, f"system-connections/{name}").startswith(b"[connection]")
    assert fsck(img, off, 40 * MiB, tmp_path).returncode == 0
