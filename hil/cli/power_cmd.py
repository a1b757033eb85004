"""`hil power on|off|cycle --board NAME` — switch a board's power."""

from __future__ import annotations

import argparse

from hil.cli.common import add_lab_option, find_board, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "power",
        help="switch a board's power on, off, or cycle it",
        description="Switch a board's power with the driver of its lab config (uhubctl, "
        "command, manual, sim). `cycle` waits for the console port and a shell prompt "
        "unless --no-wait.",
    )
    p.add_argument("action", choices=["on", "off", "cycle"])
    add_lab_option(p)
    p.add_argument("--board", required=True, metavar="NAME")
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="with cycle: return once the power is back, without waiting for a shell",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the shell after a cycle (default: console.login_timeout)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    lab = load(args)
    board = find_board(lab, args.board, args.lab)
    lock = board.lock() if board.config.is_shared_hardware else None
    if lock:
        lock.acquire(wait=False)
    try:
        if args.action == "on":
            board.power.on()
        elif args.action == "off":
            board.power.off()
        else:
            board.power_cycle(wait=not args.no_wait, timeout=args.timeout)
    finally:
        if lock:
            lock.release()
    print(f"{board.name}: power {args.action}")
    return 0
