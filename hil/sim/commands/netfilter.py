"""`iptables -t nat -S [CHAIN]`: the nat rules balena-proxy-config installs."""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.shell.interp import Proc


@command("iptables")
def iptables(p: Proc) -> int:
    args = p.args[1:]
    table = "filter"
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a == "-t":
            table = next(it, "filter")
        elif a == "-w":
            next(it, None)
        elif a in ("-n", "-v"):
            continue
        else:
            rest.append(a)
    if not rest or rest[0] not in ("-S", "--list-rules"):
        p.err("iptables v1.8.7 (legacy): only -S is modelled by the simulator\n")
        return 2
    chain = rest[1] if len(rest) > 1 else None
    redsocks = p.world.subsystems["services"].redsocks
    rules = redsocks.iptables_rules() if table == "nat" else []
    if chain is None:
        for builtin in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"):
            p.out(f"-P {builtin} ACCEPT\n")
        for line in rules:
            p.out(line + "\n")
        return 0
    if chain != "REDSOCKS" or not rules:
        if chain in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"):
            p.out(f"-P {chain} ACCEPT\n")
            return 0
        p.err("iptables: No chain/target/match by that name.\n")
        return 1
    for line in rules:
        p.out(line + "\n")
    return 0
