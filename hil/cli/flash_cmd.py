"""`hil flash` and `hil qualify` — OS releases onto boards, and a sweep across releases."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hil.cli.common import add_lab_option, find_board, load
from hil.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "flash",
        help="flash an OS release onto a board (with its connection files injected)",
        description="Take the image of RELEASE for the board's device type from the lab's "
        "release catalog, inject the board's files (flash: in the lab config) into its boot "
        "partition, write it to the board's SD card through its SD mux with bmaptool, power "
        "the board on and wait until /etc/os-release reports RELEASE. Only the board's "
        "configured SD device is ever written.",
    )
    add_lab_option(p)
    p.add_argument("--board", required=True, metavar="NAME")
    p.add_argument(
        "--release",
        required=True,
        metavar="VERSION",
        help="OS release, as VERSION in /etc/os-release (e.g. 2.113.4)",
    )
    p.add_argument(
        "--device",
        metavar="PATH",
        help="the SD device to write; must be the board's configured sd_mux.device",
    )
    p.set_defaults(func=run_flash)

    q = sub.add_parser(
        "qualify",
        help="flash each release in turn on each board, run the suites, one report",
        description="Release sweep: for each release, flash it on every board, run the suites, "
        "and collect all results into one allure results directory and one report with the "
        "qualification matrix across the releases.",
    )
    add_lab_option(q)
    q.add_argument("--releases", required=True, metavar="A,B,C", help="comma-separated OS releases")
    q.add_argument("--suite", action="append", default=[], metavar="NAME")
    q.add_argument("--board", action="append", default=[], metavar="NAME")
    q.add_argument("--results", default="out/allure-results", metavar="DIR")
    q.add_argument("--report", default="out/report", metavar="DIR")
    q.add_argument("--workers", default="auto", metavar="N")
    q.add_argument("--no-wait", action="store_true")
    q.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS")
    q.set_defaults(func=run_qualify)


def _flash_one(lab, lab_path: str, name: str, release: str, device: str | None = None) -> str:
    from hil.flash import flash

    board = find_board(lab, name, lab_path)
    console = Console(stderr=True)
    with Progress(
        TextColumn(f"[bold]{name}[/] {{task.description}}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def note(msg: str, fraction: float | None) -> None:
            bar.update(task, description=msg, completed=fraction or 0.0)
            if not console.is_terminal:
                console.print(f"{name}: {msg}" + (f" {fraction:.0%}" if fraction else ""))

        version = flash(board, release, device=device, progress=note)
        bar.update(task, description=f"running {version}", completed=1.0)
    return version


def run_flash(args: argparse.Namespace) -> int:
    lab = load(args)
    board = find_board(lab, args.board, args.lab)
    lock = None
    if board.config.is_shared_hardware:
        lock = board.lock()
        lock.acquire(wait=False)
    try:
        version = _flash_one(lab, args.lab, args.board, args.release, args.device)
    finally:
        if lock:
            lock.release()
    print(f"{args.board}: running {version}")
    return 0


def run_qualify(args: argparse.Namespace) -> int:
    from hil.cli import run_cmd

    lab = load(args)
    releases = [r.strip() for r in args.releases.split(",") if r.strip()]
    if not releases:
        raise ConfigError("--releases: no release given")
    names = args.board or [b.name for b in lab.boards]
    status = 0
    with run_cmd._shared_sim(lab):
        for i, release in enumerate(releases):
            print(f"== release {release} ({i + 1}/{len(releases)})", flush=True)
            for name in names:
                version = _flash_one(lab, args.lab, name, release)
                print(f"{name}: running {version}", flush=True)
            ns = argparse.Namespace(**vars(args))
            ns.keep_results = i > 0
            code = run_cmd.run(ns)
            status = status or code
    sys.stdout.flush()
    return status
