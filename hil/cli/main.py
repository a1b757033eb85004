"""`hil` — the command line. One module per command group registers itself.

Exit codes: 2 for usage and config errors (one line, never a traceback), 255
when the harness itself fails (port missing, login refused, board rebooted),
otherwise the command's own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hil import __version__
from hil.errors import HilError

#: command modules under hil.cli, each with `register(subparsers)`
COMMAND_MODULES = [
    "run_cmd",
    "exec_cmd",
    "sim_cmd",
    "power_cmd",
    "image_cmd",
    "keyfile_cmd",
    "flash_cmd",
    "modeswitch_cmd",
    "devices_cmd",
    "report_cmd",
    "bundle_cmd",
    "repro_cmd",
    "replay_cmd",
    "vrig_cmd",
    # one per line: several people add theirs here
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (for `command`, when a module is named after it) only that
    command's: `hil image ...` does not import what `hil run` needs."""
    parser = _Parser(
        prog="hil",
        description="Hardware-in-the-loop test harness for cellular modems and WiFi on "
        "balenaOS boards (simulated, virtual or physical).",
    )
    parser.add_argument("--version", action="version", version=f"hil {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    modules = COMMAND_MODULES
    if command is not None and f"{command}_cmd" in COMMAND_MODULES:
        modules = [f"{command}_cmd"]
    for name in modules:
        importlib.import_module(f"hil.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HilError as e:
        from hil.lab.secrets import redact  # only on the way out: a short command skips it

        sys.stderr.write(f"hil: {redact(str(e))}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("hil: interrupted\n")
        return 130
    except Exception as e:
        import traceback

        from hil.lab.secrets import redact

        if os.environ.get("HIL_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(
            f"hil: internal error: {redact(f'{type(e).__name__}: {e}')} "
            "(HIL_DEBUG=1 for the traceback)\n"
        )
        return 255


if __name__ == "__main__":
    sys.exit(main())
