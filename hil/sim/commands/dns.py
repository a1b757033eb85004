"""`nslookup` as busybox 1.35 prints it (balenaOS's userland), through dnsmasq."""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.lab_net import NetFailure
from hil.sim.services.dnsmasq import LISTEN, Refused
from hil.sim.shell.interp import CommandError, Proc


@command("nslookup")
def nslookup(p: Proc) -> int:
    args = [a for a in p.args[1:] if not a.startswith("-")]
    if not args:
        raise CommandError("usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]")
    name = args[0]
    services = p.world.subsystems["services"]
    server = args[1] if len(args) > 1 else LISTEN
    try:
        ask = services.resolve if server == LISTEN else lambda n: services.lab.query(server, n)
        address = ask(name)
    except Refused:
        p.out(f"Server:\t\t{server}\nAddress:\t{server}:53\n\n")
        p.out(f"** server can't find {name}: REFUSED\n\n")
        return 1
    except NetFailure as e:
        p.sleep(p.world.clock.real_seconds(e.world_seconds))
        p.out(";; connection timed out; no servers could be reached\n\n")
        return 1
    p.out(f"Server:\t\t{server}\nAddress:\t{server}:53\n\n")
    if address is None:
        p.out(f"** server can't find {name}: NXDOMAIN\n\n")
        return 1
    p.out(f"Non-authoritative answer:\nName:\t{name}\nAddress: {address}\n\n")
    return 0
