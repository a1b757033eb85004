"""`hil bundle collect|check` — field bundles: a field device's files, facts and logs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hil.cli.common import add_lab_option, find_board, load
from hil.lab.secrets import REDACTOR, redact
from hil.repro import bundle as bundle_format
from hil.repro.bundle import load_bundle

_FORMAT = (bundle_format.__doc__ or "").split("\n\n", 1)[1]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bundle",
        help="collect or check a field bundle (a device's config, modem, OS release, logs)",
        description="Field bundles: what a field device is and how it is configured, so "
        "that `hil repro` can reproduce its failure on a rig or on the simulator.\n\n" + _FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kind = p.add_subparsers(dest="bundle_command", metavar="COMMAND")
    kind.required = True

    c = kind.add_parser(
        "collect",
        help="make a bundle from a board of the lab, over its console",
        description="Read the board's boot-partition files (config.json, system-connections/, "
        "system-proxy/, dispatcher.d/), its facts (OS release, device type, modems, WiFi "
        "networks in range) and its logs (journal, dmesg, mmcli) into a bundle. The console "
        "of a collection keeps no transcript. With --redact every secret (psk, passwords, "
        "PINs, API keys) is replaced by REDACTED-BY-HIL in files and logs.",
    )
    add_lab_option(c)
    c.add_argument("--board", required=True, metavar="NAME", help="board name in the lab config")
    c.add_argument("--redact", action="store_true", help="replace every secret in the bundle")
    c.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="bundle to write: a directory, or a .tar/.tar.gz file "
        "(default out/bundles/BOARD-TIME.tar.gz)",
    )
    c.set_defaults(func=run_collect)

    k = kind.add_parser(
        "check",
        help="validate a bundle before any hardware is touched (exit 0 valid, 1 invalid, "
        "2 unreadable)",
        description="Validate every file of a bundle (keyfiles as NetworkManager reads them, "
        "config.json, redsocks.conf, no_proxy, dispatcher scripts), hold the connection files "
        "against device.yaml (networks in range, the APN the network accepts), and show the "
        "known failure signatures found in its logs first. Exit 0 if valid, 1 if any file is "
        "invalid, 2 if the bundle cannot be read (missing, partial, corrupted).",
    )
    k.add_argument("bundle", metavar="BUNDLE", help="a bundle directory or .tar/.tar.gz")
    k.add_argument("--json", action="store_true", help="print the verdict as JSON")
    k.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from hil.repro.check import check_bundle
    from hil.repro.secrets import bundle_secrets

    bundle = load_bundle(args.bundle)
    REDACTOR.add_all(bundle_secrets(bundle))
    report = check_bundle(bundle)
    if args.json:
        sys.stdout.write(redact(json.dumps(report.as_json(), indent=2, ensure_ascii=False)) + "\n")
    else:
        for line in report.lines():
            sys.stdout.write(redact(line) + "\n")
    return 0 if report.valid else 1


def run_collect(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from hil.repro.collect import collect

    lab = load(args)
    board = find_board(lab, args.board, args.lab)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = Path(args.output or f"out/bundles/{board.name}-{stamp}.tar.gz")
    lock = None
    if not board.config.is_sim:
        lock = board.lock()
        lock.acquire(wait=True, notify=lambda m: sys.stderr.write(f"hil: {m}\n"))
    try:
        with board.open_shell() as shell:  # no transcript: the files carry secrets
            bundle = collect(shell, board.config, lab=lab.name, redact=args.redact)
    finally:
        if lock:
            lock.release()
    written = bundle.write(output)
    d = bundle.device
    sys.stdout.write(
        f"{written}: {d.device_type}, balenaOS {d.os_release}, {len(bundle.files)} file(s)"
        f"{', secrets redacted' if args.redact else ''}\n"
    )
    return 0
