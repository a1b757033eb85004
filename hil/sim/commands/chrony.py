"""`chronyc` (chrony 4.x: sources, tracking, waitsync; `-c` CSV and `-N` names)
and `timedatectl`, from the simulated chronyd (formats as recorded in
fixtures/chrony/ from the real chronyc)."""

from __future__ import annotations

import time

from hil.sim.commands import command
from hil.sim.services.chrony import SourceState
from hil.sim.shell.interp import CommandError, Proc

NEVER = 4294967295
HEADER = (
    "MS Name/IP address         Stratum Poll Reach LastRx Last sample               \n"
    "===============================================================================\n"
)


def _source_row(s: SourceState, csv: bool, names: bool) -> str:
    label = s.name if names or not s.address else s.address
    state = "*" if s.selected else ("+" if s.reachable else "?")
    if s.reachable:
        stratum, poll, reach, lastrx = 2, 14, 377, 12
        off = s.offset_ns()
        err = 15_000_000 + off * 100
    else:
        stratum, poll, reach, lastrx, off, err = 0, 0, 0, NEVER, 0, 0
    if csv:
        return (
            f"^,{state},{label},{stratum},{poll},{reach},{lastrx},"
            f"{off / 1e9:.9f},{(off - 14) / 1e9:.9f},{err / 1e9:.9f}\n"
        )
    last = "-" if lastrx == NEVER else str(lastrx)
    sample = f"{off:+}ns[{off - 14:+5}ns] +/- {err // 1_000_000:4}ms"
    if not s.reachable:
        sample = "+0ns[   +0ns] +/-    0ns"
    return f"^{state} {label:<27}{stratum:>3}{poll:>5}{reach:>6}{last:>6}  {sample:>25}\n"


@command("chronyc")
def chronyc(p: Proc) -> int:
    args = p.args[1:]
    csv = "-c" in args
    names = "-N" in args
    words = [a for a in args if not a.startswith("-")]
    chrony = p.world.subsystems["services"].chrony
    if not chrony.running:
        p.out("506 Cannot talk to daemon\n")
        return 1
    verb = words[0] if words else "tracking"
    if verb == "sources":
        states = [s for s in chrony.sources() if s.address]
        if not csv:
            p.out(HEADER)
        for s in states:
            p.out(_source_row(s, csv, names))
        return 0
    if verb == "tracking":
        p.out(_tracking(chrony, csv))
        return 0
    if verb == "waitsync":
        return _waitsync(p, chrony, words[1:])
    raise CommandError(f"Unrecognized command: {verb}", 1)


def _tracking(chrony, csv: bool) -> str:
    ref = chrony.reference()
    if ref is None:
        if csv:
            return (
                "00000000,,0,0.000000000,0.000000015,0.000000000,0.000000000,-0.004,0.000,"
                "0.000,1.000000000,1.000000000,0.0,Not synchronised\n"
            )
        return (
            "Reference ID    : 00000000 ()\nStratum         : 0\n"
            "Ref time (UTC)  : Thu Jan 01 00:00:00 1970\n"
            "System time     : 0.000000015 seconds slow of NTP time\n"
            "Last offset     : +0.000000000 seconds\nRMS offset      : 0.000000000 seconds\n"
            "Frequency       : 0.004 ppm slow\nResidual freq   : +0.000 ppm\n"
            "Skew            : 0.000 ppm\nRoot delay      : 1.000000000 seconds\n"
            "Root dispersion : 1.000000000 seconds\nUpdate interval : 0.0 seconds\n"
            "Leap status     : Not synchronised\n"
        )
    now = time.time() - 12
    off = abs(ref.offset_ns()) / 1e9
    if csv:
        return (
            f"{ref.reference_id()},{ref.address},3,{now:.9f},{off:.9f},-0.000000014,"
            f"0.000000023,-0.004,-0.002,0.114,0.012345678,0.001234567,1024.0,Normal\n"
        )
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now))
    return (
        f"Reference ID    : {ref.reference_id()} ({ref.address})\nStratum         : 3\n"
        f"Ref time (UTC)  : {stamp}\nSystem time     : {off:.9f} seconds fast of NTP time\n"
        "Last offset     : -0.000000014 seconds\nRMS offset      : 0.000000023 seconds\n"
        "Frequency       : 0.004 ppm slow\nResidual freq   : -0.002 ppm\n"
        "Skew            : 0.114 ppm\nRoot delay      : 0.012345678 seconds\n"
        "Root dispersion : 0.001234567 seconds\nUpdate interval : 1024.0 seconds\n"
        "Leap status     : Normal\n"
    )


def _waitsync(p: Proc, chrony, args: list[str]) -> int:
    """`waitsync [max-tries [max-correction [max-skew [interval]]]]`."""
    try:
        tries = int(args[0]) if args else 0
        interval = float(args[3]) if len(args) > 3 else 10.0
    except ValueError:
        raise CommandError("Invalid syntax for waitsync command", 1) from None
    n = 0
    while True:
        n += 1
        ref = chrony.reference()
        refid = ref.reference_id() if ref else "00000000"
        correction = abs(ref.offset_ns()) / 1e9 if ref else 0.000000015
        skew = "0.114" if ref else "0.000"
        p.out(f"try: {n}, refid: {refid}, correction: {correction:.9f}, skew: {skew}\n")
        if ref is not None:
            return 0
        if tries and n >= tries:
            return 1
        p.sleep(p.world.clock.real_seconds(interval))


@command("timedatectl")
def timedatectl(p: Proc) -> int:
    services = p.world.subsystems["services"]
    synced = services.chrony.synchronised()
    active = services.chrony.running
    args = p.args[1:]
    if args and args[0] == "show":
        props = {
            "Timezone": "UTC",
            "LocalRTC": "no",
            "CanNTP": "yes",
            "NTP": "yes" if active else "no",
            "NTPSynchronized": "yes" if synced else "no",
            "TimeUSec": time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "RTCTimeUSec": "n/a",
        }
        wanted = [args[i + 1] for i, a in enumerate(args) if a in ("-p", "--property")][:]
        wanted += [a.split("=", 1)[1] for a in args if a.startswith("--property=")]
        value_only = "--value" in args
        for key, value in props.items():
            if wanted and key not in wanted:
                continue
            p.out(f"{value}\n" if value_only else f"{key}={value}\n")
        return 0
    if args and args[0] != "status":
        raise CommandError(f"Unknown command verb {args[0]}.", 1)
    now = time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime())
    p.out(
        f"               Local time: {now}\n           Universal time: {now}\n"
        "                 RTC time: n/a\n                Time zone: UTC (UTC, +0000)\n"
        f"System clock synchronized: {'yes' if synced else 'no'}\n"
        f"              NTP service: {'active' if active else 'inactive'}\n"
        "          RTC in local TZ: no\n"
    )
    return 0
