"""What can go wrong on a console, one class per thing a lab engineer does about it.

All are `HarnessError`s: the harness could not do its job (the CLI exits 255,
a test that meets one is broken, not failed). Messages name the board.
"""

from __future__ import annotations

from hil.errors import HarnessError


class ConsoleError(HarnessError):
    """The console could not give a trustworthy answer."""


class PortUnavailable(ConsoleError):
    """The port is missing (board off, adapter unplugged), busy, or refuses to open."""


class ConsoleLost(ConsoleError):
    """The port went away while in use (adapter unplugged, ser2net gone)."""


class LoginFailed(ConsoleError):
    """The board asked for credentials the lab config lacks, or refused them."""


class NoShell(ConsoleError):
    """No shell prompt could be reached in time."""


class CommandTimeout(ConsoleError):
    """The command did not finish in time; it was interrupted and the shell recovered.

    `output` is what it had printed when interrupted (programs that buffer
    their output when it is not a terminal may have printed less).
    """

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class BoardRebooted(ConsoleError):
    """The board rebooted, panicked or logged the shell out while we waited."""


class OutputCorrupted(ConsoleError):
    """The command's output failed its integrity check on every attempt.

    The line loses bytes (or prints messages the harness cannot tell apart
    from output): rather than return a wrong output, the harness gives up.
    """


class IncompleteCommand(ConsoleError, ValueError):
    """The command is not complete shell syntax (an unclosed quote or bracket)."""
