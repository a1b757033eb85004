"""The console: transports, the transcript-first stream, and the shell session.

`open_shell(url, ...)` is the entry point (see DESIGN.md); errors are
`HarnessError`s, one class per thing a lab engineer does about them.
"""

from hil.console.errors import (
    BoardRebooted,
    CommandTimeout,
    ConsoleError,
    ConsoleLost,
    IncompleteCommand,
    LoginFailed,
    NoShell,
    OutputCorrupted,
    PortUnavailable,
)
from hil.console.session import CommandResult, ShellSession, open_shell

__all__ = [
    "BoardRebooted",
    "CommandResult",
    "CommandTimeout",
    "ConsoleError",
    "ConsoleLost",
    "IncompleteCommand",
    "LoginFailed",
    "NoShell",
    "OutputCorrupted",
    "PortUnavailable",
    "ShellSession",
    "open_shell",
]
