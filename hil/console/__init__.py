"""The console: transports, the transcript-first stream, and the shell session."""

from hil.console.session import (
    BoardRebooted,
    CommandResult,
    CommandTimeout,
    ShellSession,
    open_shell,
)

__all__ = ["BoardRebooted", "CommandResult", "CommandTimeout", "ShellSession", "open_shell"]
