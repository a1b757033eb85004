"""System facts and control: uname, hostname, sleep, stty, dmesg, date, reboot."""

from __future__ import annotations

import posixpath
import threading
import time

from hil.sim.commands import command
from hil.sim.shell.interp import CommandError, Interrupted, Proc, RebootRequested


@command("uname")
def uname(p: Proc) -> int:
    w = p.world
    fields = {
        "s": "Linux",
        "n": w.hostname,
        "r": w.kernel,
        "v": "#1 SMP PREEMPT Tue Mar 28 10:29:45 UTC 2023",
        "m": w.machine,
        "o": "GNU/Linux",
    }
    flags = "".join(a[1:] for a in p.args[1:] if a.startswith("-")) or "s"
    if "a" in flags:
        flags = "snrvmo"
    p.out(" ".join(fields[f] for f in "snrvmo" if f in flags) + "\n")
    return 0


@command("hostname")
def hostname(p: Proc) -> int:
    p.out(p.world.hostname + "\n")
    return 0


@command("sleep")
def sleep(p: Proc) -> int:
    if len(p.args) != 2:
        raise CommandError("usage: sleep N")
    try:
        seconds = float(p.args[1].rstrip("s"))
    except ValueError:
        raise CommandError(f"invalid number '{p.args[1]}'") from None
    p.sleep(seconds)
    return 0


@command("stty")
def stty(p: Proc) -> int:
    tty = p.shell.tty
    args = iter(p.args[1:])
    for a in args:
        if a == "-echo":
            tty.echo = False
        elif a == "echo":
            tty.echo = True
        elif a in ("cols", "columns"):
            tty.cols = int(next(args, "80"))
        elif a == "rows":
            tty.rows = int(next(args, "24"))
        elif a == "size":
            p.out(f"{tty.rows} {tty.cols}\n")
        elif a == "-a":
            p.out(
                f"speed 115200 baud; rows {tty.rows}; columns {tty.cols};\n"
                f"{'' if tty.echo else '-'}echo\n"
            )
    return 0


@command("dmesg")
def dmesg(p: Proc) -> int:
    if "-n" in p.args:
        return 0
    p.out(p.world.fs.read("/var/log/dmesg") if p.world.fs.exists("/var/log/dmesg") else b"")
    return 0


@command("date")
def date(p: Proc) -> int:
    if "+%s" in p.args:
        p.out(f"{int(time.time())}\n")
    else:
        p.out(time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime()) + "\n")
    return 0


@command("uptime")
def uptime(p: Proc) -> int:
    up = int(p.world.clock.uptime())
    p.out(
        f" {time.strftime('%H:%M:%S', time.gmtime())} up {up // 60} min,  load average: "
        "0.08, 0.12, 0.10\n"
    )
    return 0


@command("id")
def id_(p: Proc) -> int:
    p.out("uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


@command("whoami")
def whoami(p: Proc) -> int:
    p.out("root\n")
    return 0


@command("env", "printenv")
def env(p: Proc) -> int:
    for k, v in sorted(p.shell.env.items()):
        p.out(f"{k}={v}\n")
    return 0


@command("reboot")
def reboot(p: Proc) -> int:
    if p.shell.world.fault("reboot-ignored"):
        return 0  # systemd took the request, and the reboot job never runs
    raise RebootRequested


@command("timeout")
def timeout(p: Proc) -> int:
    """`timeout [-s SIG] DURATION CMD...`: run CMD, interrupt it after DURATION (exit 124)."""
    args = p.args[1:]
    while args and args[0].startswith("-") and args[0] != "--":
        args = args[2:] if args[0] in ("-s", "--signal", "-k", "--kill-after") else args[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if len(args) < 2:
        raise CommandError("usage: timeout [-s SIG] DURATION COMMAND [ARG]...", 125)
    try:
        seconds = float(args[0].rstrip("s"))
    except ValueError:
        raise CommandError(f"invalid time interval '{args[0]}'", 125) from None
    handler = p.shell.commands.get(posixpath.basename(args[1]))
    if handler is None:
        p.err(f"timeout: failed to run command '{args[1]}': No such file or directory\n")
        return 127
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        p.shell.interrupt.set()  # the board's Ctrl-C path: every waiting handler honours it

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        status = handler(Proc(p.shell, args[1:], p.stdin, p.out, p.err))
        return 0 if status is None else status
    except Interrupted:
        if not fired.is_set():
            raise  # a real Ctrl-C
        return 124
    except CommandError as e:
        p.err(f"{args[1]}: {e}\n")
        return e.status
    finally:
        timer.cancel()
        if fired.is_set():
            p.shell.interrupt.clear()
