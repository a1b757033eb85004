"""Shared helpers of the CLI commands: the --lab option, finding a board."""

from __future__ import annotations

import argparse

from hil.board import Board
from hil.errors import ConfigError
from hil.lab import DEFAULT_LAB, LabConfig, load_lab


def add_lab_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lab",
        default=str(DEFAULT_LAB),
        metavar="PATH",
        help=f"lab config (default: {DEFAULT_LAB})",
    )


def find_board(lab: LabConfig, name: str, lab_path: str) -> Board:
    try:
        return Board(lab, lab.board(name))
    except KeyError:
        names = ", ".join(b.name for b in lab.boards)
        raise ConfigError(f"{lab_path}: no board named {name!r} (boards: {names})") from None


def load(args: argparse.Namespace) -> LabConfig:
    return load_lab(args.lab)
