"""Errors that the CLI turns into exit codes, one line each, never a traceback.

`ConfigError` (exit 2): the user's input is wrong — a lab config, a keyfile, a
command line. `HarnessError` (exit 255, as ssh does): the harness could not do
its job — a console port is missing, a login was refused, a board rebooted.
"""

from __future__ import annotations


class HilError(Exception):
    """Base of the errors `hil` reports as one line."""

    exit_code = 1


class ConfigError(HilError):
    """Bad input from the user: names the file, key path and what was expected."""

    exit_code = 2


class HarnessError(HilError):
    """The harness itself failed (console lost, login refused, board rebooted)."""

    exit_code = 255
