"""Rebooting a board from its shell, and proving that it rebooted.

A `reboot` that returns, a console that comes back to a prompt, and a board
that never went down look the same from the line. The kernel's boot id
(`/proc/sys/kernel/random/boot_id`, a random UUID drawn at every boot) tells
them apart: it must differ after a reboot, or a test would check the state of
the old boot and could pass on it.
"""

from __future__ import annotations

import contextlib
import re
import time

from hil.console import ShellSession
from hil.console.session import BoardRebooted, CommandTimeout
from hil.errors import HarnessError

BOOT_ID = "/proc/sys/kernel/random/boot_id"
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


class DidNotReboot(HarnessError):
    """The board answered again, but in the boot it was in before `reboot`."""


def boot_id(shell: ShellSession, board: str = "board") -> str:
    """The board's current boot id (a UUID)."""
    r = shell.run(f"cat {BOOT_ID}", timeout=10)
    found = _UUID.findall(r.output.lower())
    if r.exit_code != 0 or len(found) != 1:
        raise HarnessError(f"{board}: cannot read the boot id ({BOOT_ID}): {r.output.strip()!r}")
    return found[0]


def reboot(
    shell: ShellSession, board: str, login_timeout: float, goes_down_later: bool = True
) -> str:
    """`reboot` on the console, then back at a shell prompt in a new boot; its boot id.

    A real board goes down some seconds after `reboot` returns (systemd stops
    its units first), so the old shell may still answer: with `goes_down_later`
    the boot id is asked again until it changes, within `login_timeout`.
    Raises `DidNotReboot` when the board is still in the boot it was in.
    """
    try:
        before = boot_id(shell, board)
    except BoardRebooted:  # it rebooted on its own just now: ours is still to come
        shell.connect(login_timeout)
        before = boot_id(shell, board)
    with contextlib.suppress(BoardRebooted, CommandTimeout):
        shell.run("reboot", timeout=10)
    deadline = time.monotonic() + login_timeout
    while True:
        try:
            shell.connect(max(1.0, deadline - time.monotonic()))
            after = boot_id(shell, board)
        except (BoardRebooted, CommandTimeout):
            if time.monotonic() >= deadline:
                raise
            continue  # going down, or booting once more: ask the new boot
        if after != before:
            return after
        if not goes_down_later or time.monotonic() >= deadline:
            raise DidNotReboot(
                f"{board}: `reboot` did not reboot the board: its boot id is still "
                f"{before} ({BOOT_ID})"
            )
        time.sleep(1.0)
