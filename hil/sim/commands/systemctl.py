"""`systemctl` for the services the simulated board models."""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.shell.interp import CommandError, Proc


def _unit(name: str) -> str:
    return name.removesuffix(".service")


@command("systemctl")
def systemctl(p: Proc) -> int:
    args = [a for a in p.args[1:] if not a.startswith("-")]
    if len(args) < 2:
        raise CommandError("usage: systemctl start|stop|restart|is-active|status UNIT", 1)
    verb, units = args[0], [_unit(u) for u in args[1:]]
    services = p.world.services
    status = 0
    for unit in units:
        if unit not in services:
            if verb == "is-active":
                p.out("inactive\n")
                status = 3
                continue
            p.err(f"Failed to {verb} {unit}.service: Unit {unit}.service not found.\n")
            status = 5
            continue
        start, stop = services[unit]
        active = p.world.service_active(unit)
        state_of = p.world.service_states.get(unit)
        word = state_of() if state_of else ("active" if active else "inactive")
        if verb == "start" and not active:
            start()
        elif verb == "stop":
            stop()
        elif verb in ("restart", "reload-or-restart"):
            stop()
            start()
        elif verb == "is-active":
            p.out(word + "\n")
            status = status or (0 if active else 3)
        elif verb == "is-failed":
            p.out(word + "\n")
            status = status or (0 if word == "failed" else 1)
        elif verb == "status":
            state = {
                "active": "active (running)",
                "failed": "failed (Result: exit-code)",
            }.get(word, "inactive (dead)")
            p.out(
                f"* {unit}.service\n     Loaded: loaded (/lib/systemd/system/{unit}.service; "
                f"enabled)\n     Active: {state}\n"
            )
            status = status or (0 if active else 3)
    return status
