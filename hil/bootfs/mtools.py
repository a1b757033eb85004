"""GNU mtools on a FAT filesystem inside a file (`-i FILE@@OFFSET`): no root, no mount.

mtools is why `hil` needs neither loop devices nor a FAT implementation of its
own: it is the long-maintained userspace FAT tool (VFAT long names, FAT12/16/32,
case bits), and its results are what `fsck.fat` and the kernel's vfat agree on.
Each call is a short subprocess; the environment pins mtools' behaviour (no
user config, no geometry checks, UTF-8 names, never an interactive question).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: where mtools would read a user's ~/.mtoolsrc: nowhere
_ENV = {
    "MTOOLSRC": os.devnull,
    "MTOOLS_SKIP_CHECK": "1",  # images carry no floppy geometry
    "LC_ALL": "C.UTF-8",  # long names in and out as UTF-8
}


class MtoolsError(Exception):
    """An mtools command failed; `detail` is its last line of stderr."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail

    @property
    def disk_full(self) -> bool:
        return "disk full" in self.detail.lower() or "no free clusters" in self.detail.lower()

    @property
    def not_found(self) -> bool:
        return "not found" in self.detail.lower()


class Mtools:
    """The FAT filesystem at byte `offset` of `path`."""

    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset

    @property
    def _image(self) -> str:
        return f"{self.path}@@{self.offset}" if self.offset else str(self.path)

    def _run(self, tool: str, *args: str) -> bytes:
        proc = subprocess.run(
            [tool, "-i", self._image, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={**os.environ, **_ENV},
        )
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise MtoolsError(tool, lines[-1] if lines else f"exit status {proc.returncode}")
        return proc.stdout

    # -- reading -------------------------------------------------------
    def entries(self, directory: str) -> list[str]:
        """Names in `directory` (hidden ones too); subdirectories end with `/`."""
        prefix = "::" + _dos_dir(directory)
        out = self._run("mdir", "-a", "-b", prefix).decode("utf-8", "surrogateescape")
        names = []
        for line in out.splitlines():
            if not line.startswith(prefix):
                continue
            name = line[len(prefix) :]
            if name not in ("", "./", "../"):
                names.append(name)
        return names

    def read(self, path: str) -> bytes:
        """The content of the file at `path`."""
        return self._run("mcopy", "-n", "::" + _dos_path(path), "-")

    def free_bytes(self) -> int:
        """Free space, as mdir's summary line reports it."""
        out = self._run("mdir", "-a", "::/").decode("utf-8", "replace")
        m = re.search(r"([\d ]+) bytes free", out)
        return int(m.group(1).replace(" ", "")) if m else 0

    # -- writing -------------------------------------------------------
    def mkdir(self, paths: Sequence[str]) -> None:
        if paths:
            self._run("mmd", *("::" + _dos_path(p) for p in paths))

    def put(self, sources: Sequence[Path], directory: str) -> None:
        """Copy local files into `directory`, under their own names, replacing same-named files."""
        if sources:
            self._run("mcopy", "-o", "-D", "o", *map(str, sources), "::" + _dos_dir(directory))


def _dos_path(path: str) -> str:
    return "/" + path.strip("/")


def _dos_dir(path: str) -> str:
    path = path.strip("/")
    return f"/{path}/" if path else "/"
