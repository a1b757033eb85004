"""`iw` (5.x) for the simulated board's radio: `reg get`, `list`/`phy`, `dev`,
`dev wlan0 info|link|station dump`, in iw's own formats."""

from __future__ import annotations

from hil.sim import regdb
from hil.sim.commands import command
from hil.sim.nm.devices import WifiDevice
from hil.sim.shell.interp import CommandError, Proc
from hil.sim.wifi import air_of, hotspot_stations, render_iw_dev, render_iw_link, render_iw_list

USAGE = (
    "Usage:\tiw [options] command\n"
    "Do NOT screenscrape this tool, we don't consider its output stable.\n"
)


def _wlan(p: Proc) -> tuple[WifiDevice, int]:
    nm = p.world.nm
    nm.tick()
    for index, st in enumerate(nm.devices.values(), start=2):
        if isinstance(st.device, WifiDevice):
            return st.device, index
    raise CommandError("command failed: No such device (-19)", 237)


@command("iw")
def iw(p: Proc) -> int:
    args = [a for a in p.args[1:] if a not in ("--debug",)]
    if not args:
        p.out(USAGE)
        return 0
    if args[0] == "reg" and args[1:2] == ["get"]:
        p.out(regdb.render_reg_get(air_of(p.world).regulatory.domain))
        return 0
    if args[0] == "list" or (args[0] == "phy" and len(args) <= 2):
        p.out(render_iw_list(air_of(p.world).regulatory))
        return 0
    dev, index = _wlan(p)
    if args[0] == "dev" and len(args) == 1:
        p.out(render_iw_dev(dev, dev.association(), index))
        return 0
    # iw dev wlan0 CMD ... | iw wlan0 CMD ...
    rest = args[1:] if args[0] == "dev" else args
    if not rest or rest[0] != dev.name:
        name = rest[0] if rest else ""
        p.err("command failed: No such device (-19)\n" if name else USAGE)
        return 237 if name else 1
    sub = rest[1:]
    if sub in (["info"], []):
        text = render_iw_dev(dev, dev.association(), index)
        # `iw dev X info` prints the interface block without the phy line, one tab less
        p.out("".join(line[1:] + "\n" for line in text.splitlines()[1:]) + "\twiphy 0\n")
        return 0
    if sub == ["link"]:
        p.out(render_iw_link(dev, dev.association()))
        return 0
    if sub[:2] == ["station", "dump"]:
        for mac in hotspot_stations(p.world):
            p.out(
                f"Station {mac} (on {dev.name})\n\tinactive time:\t120 ms\n"
                "\trx packets:\t57\n\ttx packets:\t31\n\tsignal:  \t-48 dBm\n"
                "\tauthorized:\tyes\n\tauthenticated:\tyes\n\tassociated:\tyes\n"
            )
        return 0
    p.err(USAGE)
    return 1
