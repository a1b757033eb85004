"""`hil sim serve|faults` — keep a lab's sim boards up; list the faults."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from hil.cli.common import add_lab_option, load
from hil.lab.faults import FAULTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="simulated boards: serve a lab, list faults",
        description="The simulated balenaOS boards (sim:// consoles).",
    )
    s = p.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    s.required = True
    serve = s.add_parser(
        "serve",
        help="keep the lab's sim boards up until interrupted",
        description="Serve every sim:// board of the lab on a pty, so that later `hil exec` "
        "and `hil run` calls reach the same boards and their state persists. Ctrl-C stops.",
    )
    add_lab_option(serve)
    serve.set_defaults(func=serve_cmd)
    faults = s.add_parser(
        "faults",
        help="list the lab faults and the suite tests that cover each",
        description="List each fault (board faults turn their tests red; console faults "
        "must leave verdicts unchanged) with the suite tests that declare it.",
    )
    add_lab_option(faults)
    faults.add_argument("--json", action="store_true", help="machine-readable output")
    faults.set_defaults(func=faults_cmd)


def serve_cmd(args: argparse.Namespace) -> int:
    from hil.sim.server import SimServer

    lab = load(args)
    server = SimServer(lab, publish=True).start()
    for name, board in server.boards.items():
        print(f"{name}: sim://{name} on {board.pty_path}", flush=True)
    if not server.boards:
        print(f"{args.lab}: no sim:// boards in this lab", file=sys.stderr)
        server.stop()
        return 2
    print("serving; Ctrl-C to stop", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def faults_cmd(args: argparse.Namespace) -> int:
    from hil.suites import fault_coverage

    load(args)  # validate the lab first: errors are exit 2
    coverage = fault_coverage(args.lab)
    rows = [
        {
            "name": f.name,
            "kind": f.kind,
            "description": f.description,
            "tests": coverage.get(f.name, []),
        }
        for f in FAULTS.values()
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for row in rows:
        print(f"{row['name']} ({row['kind']}): {row['description']}")
        if row["kind"] == "console":
            print("    affects: every suite test (verdicts must not change)")
        for t in row["tests"]:
            print(f"    {t}")
        if row["kind"] == "board" and not row["tests"]:
            print("    (no suite test covers it yet)")
    return 0
