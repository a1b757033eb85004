"""`journalctl [-u UNIT]... [-b] [-n N] [-o cat] [--no-pager]` from the board's journal."""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.shell.interp import CommandError, Proc


@command("journalctl")
def journalctl(p: Proc) -> int:
    units: list[str] = []
    lines: int | None = None
    this_boot = False
    cat = False
    it = iter(p.args[1:])
    for a in it:
        if a in ("-u", "--unit"):
            units.append(next(it, "").removesuffix(".service"))
        elif a.startswith("--unit="):
            units.append(a.split("=", 1)[1].removesuffix(".service"))
        elif a in ("-b", "--boot"):
            this_boot = True
        elif a in ("-n", "--lines"):
            try:
                lines = int(next(it, "10"))
            except ValueError:
                raise CommandError("Failed to parse lines", 1) from None
        elif a in ("-o", "--output"):
            cat = next(it, "") == "cat"
        elif a in ("--no-pager", "-q", "--quiet", "-a", "--all"):
            continue
        else:
            raise CommandError(f"unrecognized option '{a}'", 1)
    services = p.world.subsystems["services"]
    # systemd's own lines about a unit carry the unit's name with .service
    wanted = units + [f"{u}.service" for u in units]
    entries = services.journal.select(wanted, this_boot)
    if lines is not None:
        entries = entries[-lines:] if lines else []
    if not entries:
        p.out("-- No entries --\n")
        return 0
    for e in entries:
        p.out((e.message if cat else e.line(p.world.hostname)) + "\n")
    return 0
