"""`hil devices [--json]` — the USB modems and serial consoles udev sees."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from typing import TYPE_CHECKING

from hil.errors import ConfigError
from hil.usb.inventory import InventoryEntry, inventory

if TYPE_CHECKING:
    from hil.usb.modeswitch import ModeswitchDb


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="USB modems and serial consoles seen by udev",
        description="List the USB modems and serial consoles udev sees on this host (through "
        "pyudev), or on a board (through its console) with --board: physical port (ID_PATH), "
        "VID:PID, kind (modem or console), mode (storage, modem or unknown; null for consoles), "
        "interface drivers, ttys and network interfaces.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--board",
        metavar="NAME",
        help="list a board's devices over its console instead of this host's",
    )
    p.add_argument("--lab", metavar="PATH", help="lab config of --board (default: the sim lab)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.lab and not args.board:
        raise ConfigError("--lab only goes with --board NAME")
    if args.board:
        devices = _board_devices(args)
    else:
        from hil.usb.host import HostUsb

        devices = HostUsb().devices()
    rows = inventory(devices, _load_db)
    if args.json:
        json.dump([r.as_json() for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print_table(rows)
    return 0


@functools.cache
def _load_db() -> ModeswitchDb | None:
    """usb-modeswitch-data, read only when a device is neither a modem nor a console by its
    interfaces (a stick in storage mode, a hub's neighbour): most listings never need it."""
    from hil.usb.modeswitch import ModeswitchDataMissing, ModeswitchDb

    try:
        return ModeswitchDb.load()
    except ModeswitchDataMissing:
        return None  # storage-mode modems are then not recognised as modems


def _board_devices(args: argparse.Namespace):
    from hil.cli.common import find_board
    from hil.lab import DEFAULT_LAB, load_lab
    from hil.usb.board import BoardUsb

    lab_path = args.lab or str(DEFAULT_LAB)
    lab = load_lab(lab_path)
    board = find_board(lab, args.board, lab_path)
    with board.open_shell() as sh:
        return BoardUsb(sh, board.name).devices()


def _print_table(rows: list[InventoryEntry]) -> None:
    if not rows:
        print("no USB modems or serial consoles")
        return
    header = ("ID_PATH", "VID:PID", "KIND", "MODE", "DRIVERS", "TTYS", "NET")
    table = [header] + [
        (
            r.device.id_path or r.device.devpath,
            r.device.vid_pid,
            r.kind,
            r.mode or "-",
            ",".join(r.device.drivers) or "-",
            ",".join(r.device.ttys) or "-",
            ",".join(r.device.net) or "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
