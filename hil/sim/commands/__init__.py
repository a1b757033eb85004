"""Command handlers of the simulated board, registered by name.

A handler takes a `Proc` (arguments, stdin, streams, the world) and returns
an exit status. Modules here group commands by what they model; importing
this package registers them all.
"""

from __future__ import annotations

from collections.abc import Callable

from hil.sim.shell.interp import Handler

COMMANDS: dict[str, Handler] = {}


def command(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more command names."""

    def register(fn: Handler) -> Handler:
        for n in names:
            COMMANDS[n] = fn
        return fn

    return register


# Registration happens on import; keep these at the bottom.
from hil.sim.commands import (  # noqa: E402, F401
    chrony,
    coreutils,
    curl,
    dbus,
    dns,
    ip,
    iw,
    journal,
    jq,
    mmcli,
    netfilter,
    nm_daemon,
    nmcli,
    system,
    systemctl,
    usb,
    vcgencmd,
)
