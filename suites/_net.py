"""What the network suites share: the board's boot files, reboots, lookups, curl.

Helpers, not tests (pytest collects only `test_*.py`). Boot-partition files
go through `hil.board.files` (checksummed writes over the console; config.json
merged on the board, so its keys never cross the console).
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Iterator

from hil.board import Board
from hil.board.files import write_boot_files
from hil.bootfs.layout import BootFile
from hil.console import ShellSession
from hil.probes.curl import WRITE_OUT, CurlResult, parse_write_out
from hil.probes.resolver import Lookup, parse_nslookup

BOOT = "/mnt/boot"


def sh(shell: ShellSession, command: str, timeout: float = 15) -> str:
    """Run a command that must succeed; its output."""
    r = shell.run(command, timeout=timeout)
    assert r.exit_code == 0, f"`{command}` exited {r.exit_code}: {r.output.strip()[-300:]}"
    return r.output


def read(shell: ShellSession, command: str, timeout: float = 15) -> str:
    """The output of a command that reads state, read once: the console checks every
    output against the board's own byte count or digest, so a line that drops bytes
    fails the read (`OutputCorrupted`, a broken test) instead of feeding a parser."""
    return sh(shell, command, timeout)


def wait_network(shell: ShellSession, seconds: int = 60) -> None:
    """NetworkManager's startup complete: every autoconnect attempt has ended."""
    shell.run(f"nm-online -s -q -t {seconds}", timeout=seconds + 15)


def patch_config_json(shell: ShellSession, patch: dict) -> None:
    """Merge `patch` into the boot partition's config.json (a key set to None goes
    back to balenaOS's default), then wait until the services re-read it."""
    write_boot_files(shell, [BootFile("config.json", json.dumps(patch).encode(), merge_json=True)])


@contextlib.contextmanager
def config_json(shell: ShellSession, patch: dict) -> Iterator[None]:
    """config.json with `patch` for the block; the keys go back to their defaults after."""
    patch_config_json(shell, patch)
    try:
        yield
    finally:
        patch_config_json(shell, dict.fromkeys(patch))


def put_boot_file(shell: ShellSession, path: str, text: str) -> None:
    write_boot_files(shell, [BootFile(path, text.encode())])


def remove_boot_file(shell: ShellSession, path: str) -> None:
    shell.run(f"rm -f {shlex.quote(f'{BOOT}/{path}')} && sync", timeout=20)


def reboot(board: Board, shell: ShellSession, timeout: float | None = None) -> None:
    """`reboot` on the console, then back at a shell prompt in a new boot (its boot id
    changed: a reboot that did not happen is an error) with the network settled (in
    180 s, or the board's `console.login_timeout` if longer, unless told otherwise)."""
    board.reboot(shell, timeout=timeout or max(180, board.config.console.login_timeout))
    wait_network(shell)


def lookup(shell: ShellSession, name: str, server: str = "") -> Lookup:
    r = shell.run(f"nslookup {shlex.quote(name)} {server}".strip(), timeout=60)
    return parse_nslookup(r.output, name)


def curl(shell: ShellSession, url: str, max_time: int = 30, extra: str = "") -> CurlResult:
    """`curl` to `url` (body discarded): curl's own report of the transfer."""
    r = shell.run(
        f"curl -sS -o /dev/null --max-time {max_time} {extra} -w '{WRITE_OUT}' {shlex.quote(url)}",
        timeout=max_time + 30,
    )
    return parse_write_out(r.output)
