"""The simulated board's shell: lexer, parser and interpreter of a POSIX-sh subset."""

from hil.sim.shell.interp import CommandError, ExitShell, Interrupted, Proc, Shell
from hil.sim.shell.lexer import ShellSyntaxError

__all__ = ["CommandError", "ExitShell", "Interrupted", "Proc", "Shell", "ShellSyntaxError"]
