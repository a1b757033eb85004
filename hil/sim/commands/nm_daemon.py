"""`NetworkManager --print-config | --version` (the daemon's own command line)."""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.services.connectivity import print_config
from hil.sim.shell.interp import Proc


@command("NetworkManager")
def network_manager(p: Proc) -> int:
    args = p.args[1:]
    if "--version" in args or "-V" in args:
        p.out("1.42.4\n")
        return 0
    if "--print-config" in args:
        p.out(print_config(p.world.fs))
        return 0
    p.err("NetworkManager is already running (pid 612)\n")
    return 1
