"""`hil report` — the HTML report and qualification matrix from allure results.

`hil report [--results DIR]... [--report DIR]` builds it from one run's results
(default `out/allure-results`); `hil report merge RESULTS... [--report DIR]`
combines runs on different OS releases, hosts and days into one report.
History and trends are kept in `--history FILE` (Allure 3's `historyPath`;
default `out/history/<lab>.jsonl`), carried between runs of the same lab.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hil.errors import ConfigError
from hil.lab import load_lab
from hil.report.build import Report, build_report, default_history
from hil.report.environment import read_environment


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="build the HTML report and the qualification matrix from allure results",
        description="Build the Allure report (npm `allure`, Allure 3) and the qualification "
        "matrix (matrix.html, matrix.md, matrix.json) from allure results. "
        "`hil report merge DIR...` combines several runs into one report.",
    )
    _common(p)
    p.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="DIR",
        help="allure results directory (repeatable; default out/allure-results)",
    )
    p.set_defaults(func=report, results_dirs=None)
    rsub = p.add_subparsers(dest="report_command", metavar="COMMAND", parser_class=type(p))
    m = rsub.add_parser(
        "merge",
        help="one report from the results of several runs (releases, hosts, days)",
        description="Combine allure results of runs on different OS releases, hosts and days "
        "into one report and matrix.",
    )
    _common(m)
    m.add_argument("results_dirs", nargs="+", metavar="RESULTS", help="allure results directories")
    m.set_defaults(func=report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--report",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="HTML report directory (default out/report)",
    )
    p.add_argument(
        "--history",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="Allure history file carried between runs (default out/history/<lab>.jsonl)",
    )
    p.add_argument(
        "--no-history", action="store_true", default=argparse.SUPPRESS, help="keep no history"
    )
    p.add_argument(
        "--lab",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="lab config whose secrets are masked in the report too (optional)",
    )


def report(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in (args.results_dirs or args.results or ["out/allure-results"])]
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(f"{d}: no such allure results directory")
    if getattr(args, "lab", None):
        load_lab(args.lab)  # registers the lab's secrets with the redactor
    labs = sorted({e["lab"] for d in dirs if (e := read_environment(d)).get("lab")})
    history = None
    if not getattr(args, "no_history", False):
        history = Path(args.history) if getattr(args, "history", None) else default_history(labs)
    built = build_report(dirs, Path(getattr(args, "report", "out/report")), history=history)
    print_summary(built)
    return 0


def print_summary(built: Report) -> None:
    c = built.counts
    print(
        f"hil report: {c['total']} results: {c['passed']} passed, {c['failed']} failed, "
        f"{c['broken']} broken, {c['skipped']} skipped"
    )
    for (row, rel, dt), cell in sorted(built.modems.cells.items()):
        print(f"  {row} on {rel} ({dt}): {cell.verdict}")
    print(f"hil report: {built.index.resolve().as_uri()}")
