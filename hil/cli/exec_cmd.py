"""`hil exec` — run one shell command on a board over its console, as ssh does."""

from __future__ import annotations

import argparse
import sys

from hil.cli.common import add_lab_option, find_board, load
from hil.console import CommandTimeout
from hil.lab.secrets import redact


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exec",
        help="run one shell command on a board and exit with its status",
        description="Run CMD on the board's shell over its console (the words of CMD are "
        "joined with spaces and parsed by the board's shell, as ssh does), print its output "
        "and exit with its exit status: 124 on timeout, 255 if the console fails.",
    )
    add_lab_option(p)
    p.add_argument("--board", required=True, metavar="NAME", help="board name in the lab config")
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds before the command is interrupted (default 60)",
    )
    p.add_argument("--transcript", metavar="FILE", help="write the console transcript here")
    p.add_argument(
        "--wait",
        action="store_true",
        help="if another run holds the board, wait for it (default: exit 255 at "
        "once, naming the holder)",
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    words = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not words:
        sys.stderr.write("hil exec: error: no command given (hil exec --board NAME -- CMD...)\n")
        return 2
    lab = load(args)
    board = find_board(lab, args.board, args.lab)
    lock = None
    if board.config.is_shared_hardware:  # sim/replay/qemu boards are ours alone
        lock = board.lock()
        lock.acquire(wait=args.wait, notify=lambda m: sys.stderr.write(f"hil: {m}\n"))
    try:
        return _exec(board, words, args)
    finally:
        if lock:
            lock.release()


def _exec(board, words: list[str], args: argparse.Namespace) -> int:
    with board.open_shell(transcript=args.transcript) as sh:
        try:
            result = sh.run(" ".join(words), timeout=args.timeout)
        except CommandTimeout as e:
            sys.stdout.write(e.output)
            sys.stderr.write(f"hil: {redact(str(e))}\n")
            return 124
    sys.stdout.write(result.output)
    sys.stdout.flush()
    return result.exit_code
