"""`hil repro` — reproduce a field failure from its bundle, on a rig or the simulator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hil.lab.secrets import redact


def register(sub: argparse._SubParsersAction) -> None:
    from hil.repro import repro

    p = sub.add_parser(
        "repro",
        help="reproduce a field failure from its bundle (on a matching rig or the simulator)",
        description=(repro.__doc__ or "").strip()
        + "\n\nExit 0 if nothing is red (not reproduced), 1 if a test failed or broke "
        "(reproduced), 2 for a bad bundle or lab config, 255 if the harness failed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bundle", metavar="BUNDLE", help="a bundle directory or .tar/.tar.gz")
    p.add_argument(
        "--lab",
        metavar="PATH",
        help="look for a matching board in this lab (default: build a simulated board)",
    )
    p.add_argument("--board", metavar="NAME", help="use this board of --lab")
    p.add_argument(
        "--suite",
        action="append",
        default=None,
        metavar="NAME",
        help="run these suites after the bundle's own check (repeatable; default: the "
        "suites that cover what the bundle configures; `--suite none`: only its own check)",
    )
    p.add_argument(
        "--no-triage-faults",
        action="store_true",
        help="on a simulated board, do not switch on the lab faults of the failure "
        "signatures found in the bundle's logs",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="where the report goes (default out/repro/BUNDLE-NAME)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hil.errors import ConfigError
    from hil.lab import load_lab
    from hil.repro.bundle import load_bundle
    from hil.repro.repro import repro

    if args.board and not args.lab:
        raise ConfigError("--board needs --lab (the lab the board belongs to)")
    bundle = load_bundle(args.bundle)
    lab = load_lab(args.lab) if args.lab else None
    out = Path(args.output or f"out/repro/{bundle.name}")
    result = repro(
        bundle,
        lab=lab,
        lab_path=args.lab,
        board=args.board,
        out_dir=out,
        note=lambda msg: sys.stderr.write(f"hil repro: {redact(msg)}\n"),
        triage_as_faults=not args.no_triage_faults,
        suites=_suites(args.suite),
    )
    for line in result.lines():
        sys.stdout.write(redact(line) + "\n")
    return 1 if result.red else 0


def _suites(names: list[str] | None) -> list[str] | None:
    from hil.errors import ConfigError
    from hil.suites import SUITE_NAMES

    if names is None:
        return None
    chosen = [n for n in names if n != "none"]
    unknown = [n for n in chosen if n not in SUITE_NAMES]
    if unknown:
        raise ConfigError(
            f"--suite: unknown suite {', '.join(unknown)} (known: {', '.join(SUITE_NAMES)}, none)"
        )
    return chosen
