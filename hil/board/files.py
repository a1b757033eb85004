"""Boot-partition files on a live board, written through its console.

The same `BootFile`s as `hil image inject` (see `hil.bootfs.layout`), into
`/mnt/boot` of a running board, with nothing but a shell, base64, sha256sum,
mv and chmod on the board (and jq, which balenaOS ships, to merge config.json):

1. each file is sent as base64, in chunks that fit one console line even for
   busybox's line editor, into a hidden staging file next to its destination
   (`.NAME.hil-XXXX.b64`: hidden, so NetworkManager never loads a half-written
   connection), decoded, and its sha256 compared with ours;
2. config.json is merged on the board (`jq -s '.[0] * .[1]'`), so the board's
   own config.json — with its API keys — never crosses the console;
3. only when every file has arrived intact are they renamed into place
   (`mv` within one directory: each file is replaced whole), then `sync`. A
   failure before that removes the staged files and leaves the boot partition
   as it was.

Nothing of a file's content reaches the console transcript in any readable
form: its secrets (psk, passwords) are registered with the redactor for good,
and the base64 chunks and digests — which would spell the secrets out to
anyone who decodes them — are masked while they are on the line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import math
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hil.bootfs.layout import BootFile
from hil.errors import HarnessError
from hil.lab.secrets import REDACTOR

BOOT = "/mnt/boot"
#: busybox ash's line editor keeps 1024 characters; the session wraps each
#: command in markers (about 80 more), so commands stay under this
LINE_LIMIT = 900
_JQ_MERGE = "jq -s '.[0] * .[1]'"


class Shell(Protocol):
    """What this needs of a `hil.console.ShellSession`."""

    name: str

    def run(self, command: str, timeout: float = 30.0): ...


class BoardFileError(HarnessError):
    """Writing a file on the board failed; the boot partition was left as it was."""


@dataclass(frozen=True)
class _Staged:
    destination: str
    staged: str  # the file that will be renamed onto `destination`


class BootFileWriter:
    """Writes `BootFile`s under `root` (the boot partition's mount point) of a board."""

    def __init__(
        self, shell: Shell, root: str = BOOT, *, line_limit: int = LINE_LIMIT, timeout: float = 30.0
    ) -> None:
        self.shell = shell
        self.root = root.rstrip("/") or "/"
        self.line_limit = line_limit
        self.timeout = timeout
        #: staging files of the write in progress, removed if it fails
        self._temporary: list[str] = []

    def write(self, files: Sequence[BootFile]) -> list[str]:
        """Put `files` in place; returns their paths on the board.

        A failure before the final renames changes nothing under `root`; each
        rename replaces one file whole.
        """
        for f in files:
            REDACTOR.add_all(f.secrets)
        self._require(
            f"[ -d {shlex.quote(self.root)} ]", f"{self.root} is not there (not mounted?)"
        )
        directories = sorted({self._path(f.directory) for f in files if f.directory})
        if directories:
            self._run("mkdir -p " + " ".join(map(shlex.quote, directories)), "create directories")
        self._temporary = []
        try:
            staged = [self._stage(f) for f in files]
            self._commit(staged)
        except BaseException:
            self._discard_paths(self._temporary)
            raise
        return [s.destination for s in staged]

    # -- staging -------------------------------------------------------
    def _stage(self, f: BootFile) -> _Staged:
        destination = self._path(f.path)
        directory, _, name = destination.rpartition("/")
        token = secrets.token_hex(4)
        staged = f"{directory}/.{name}.hil-{token}.tmp"
        merged = f"{directory}/.{name}.hil-{token}.merged"
        self._temporary += [staged, staged + ".b64", merged]
        self._upload(f.data, staged, f.path)
        if f.merge_json:
            staged = self._merge(destination, staged, merged)
        # FAT (the real boot partition) has no modes: chmod fails there, and the OS sets
        # 0600 itself when it copies connections into the overlay.
        self.shell.run(f"chmod {f.mode:o} {shlex.quote(staged)} 2>/dev/null", timeout=self.timeout)
        return _Staged(destination, staged)

    def _upload(self, data: bytes, staged: str, what: str) -> None:
        """base64 chunks into `staged.b64`, decoded into `staged`, checked by sha256."""
        b64 = staged + ".b64"
        chunks = self._chunks(data, b64)
        digest = hashlib.sha256(data).hexdigest()
        with REDACTOR.masking([*chunks, digest]):
            for i, chunk in enumerate(chunks):
                redirect = ">" if i == 0 else ">>"
                self._run(f"printf '%s' '{chunk}' {redirect} {shlex.quote(b64)}", f"send {what}")
            if not chunks:
                self._run(f": > {shlex.quote(b64)}", f"send {what}")
            r = self.shell.run(
                f"base64 -d {shlex.quote(b64)} > {shlex.quote(staged)} && rm -f {shlex.quote(b64)}"
                f" && sha256sum {shlex.quote(staged)}",
                timeout=self.timeout,
            )
            if r.exit_code != 0:
                raise self._error(f"cannot decode {what} (base64 -d, sha256sum)", r)
            seen = r.output.split()[0] if r.output.split() else ""
        if seen != digest:
            # No digest in the message: with the file's known layout, a digest of a file
            # holding a weak psk is enough to test guesses offline.
            raise BoardFileError(
                f"{self.shell.name}: {what} arrived corrupted on the console (sha256 differs); "
                f"{self.root} left as it was"
            )

    def _chunks(self, data: bytes, b64: str) -> list[str]:
        """base64 of `data` in near-equal chunks, each fitting one command line."""
        overhead = len(f"printf '%s' '' >> {shlex.quote(b64)}")
        room = (self.line_limit - overhead) // 4 * 3  # raw bytes per chunk
        if room < 48:
            raise BoardFileError(f"{self.shell.name}: path too long for a console line: {b64}")
        if not data:
            return []
        count = math.ceil(len(data) / room)
        size = math.ceil(len(data) / count / 3) * 3
        return [base64.b64encode(data[i : i + size]).decode() for i in range(0, len(data), size)]

    def _merge(self, destination: str, patch: str, merged: str) -> str:
        """Merge the staged `patch` into the board's `destination` JSON, on the board."""
        exists = self.shell.run(f"[ -f {shlex.quote(destination)} ]", timeout=self.timeout)
        if exists.exit_code != 0:
            return patch
        r = self.shell.run(
            f"{_JQ_MERGE} {shlex.quote(destination)} {shlex.quote(patch)} > {shlex.quote(merged)}"
            f" && rm -f {shlex.quote(patch)}",
            timeout=self.timeout,
        )
        if r.exit_code == 127:
            raise BoardFileError(
                f"{self.shell.name}: no jq on the board, cannot merge {destination}; "
                f"{self.root} left as it was"
            )
        if r.exit_code != 0:
            raise self._error(f"cannot merge into {destination} (is it valid JSON?)", r)
        return merged

    # -- committing ----------------------------------------------------
    def _commit(self, staged: list[_Staged]) -> None:
        moves = [f"mv -f {shlex.quote(s.staged)} {shlex.quote(s.destination)}" for s in staged]
        # One command per line's worth of renames; each rename is atomic on its own.
        batch: list[str] = []
        for move in moves:
            if batch and len(" && ".join([*batch, move])) > self.line_limit:
                self._run(" && ".join(batch), "rename files into place")
                batch = []
            batch.append(move)
        batch.append("sync")
        self._run(" && ".join(batch), "rename files into place")

    def _discard_paths(self, paths: list[str]) -> None:
        if not paths:
            return
        # If the console is gone, the hidden staging files stay: NetworkManager ignores them.
        with contextlib.suppress(HarnessError):
            self.shell.run("rm -f " + " ".join(map(shlex.quote, paths)), timeout=self.timeout)

    # -- helpers -------------------------------------------------------
    def _path(self, relative: str) -> str:
        relative = relative.strip("/")
        return f"{self.root.rstrip('/')}/{relative}" if relative else self.root

    def _run(self, command: str, what: str) -> None:
        r = self.shell.run(command, timeout=self.timeout)
        if r.exit_code != 0:
            raise self._error(what, r)

    def _require(self, test: str, problem: str) -> None:
        r = self.shell.run(test, timeout=self.timeout)
        if r.exit_code != 0:
            raise BoardFileError(f"{self.shell.name}: {problem}")

    def _error(self, what: str, r) -> BoardFileError:
        detail = r.output.strip().splitlines()[-1] if r.output.strip() else f"exit {r.exit_code}"
        return BoardFileError(
            f"{self.shell.name}: {what} failed: {detail}; {self.root} left as it was"
        )


def write_boot_files(shell: Shell, files: Sequence[BootFile], root: str = BOOT) -> list[str]:
    """Write `files` into the boot partition of the board behind `shell` (see the module doc)."""
    return BootFileWriter(shell, root).write(files)
