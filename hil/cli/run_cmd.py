"""`hil run` — every suite against every board of the lab, with results and a report."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from hil.cli.common import add_lab_option, load
from hil.errors import ConfigError
from hil.suites import SUITE_NAMES, suite_files


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the suites against the boards of a lab",
        description="Run every suite (or those named with --suite) against every board of the "
        "lab. Writes allure results (emptied first) and an HTML report. Exit 0 iff no test "
        "failed or broke. Arguments after `--` go to pytest.",
    )
    add_lab_option(p)
    p.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only this suite (repeatable): {', '.join(SUITE_NAMES)}",
    )
    p.add_argument(
        "--board",
        action="append",
        default=[],
        metavar="NAME",
        help="run only on this board (repeatable)",
    )
    p.add_argument(
        "--results",
        default="out/allure-results",
        metavar="DIR",
        help="allure results directory, emptied first (default out/allure-results)",
    )
    p.add_argument(
        "--report",
        default="out/report",
        metavar="DIR",
        help="HTML report directory (default out/report)",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="-- PYTEST_ARGS")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pytest

    unknown = [s for s in args.suite if s not in SUITE_NAMES]
    if unknown:
        raise ConfigError(
            f"--suite: unknown suite {', '.join(unknown)} (known: {', '.join(SUITE_NAMES)})"
        )
    load(args)  # config errors are exit 2 before anything starts
    results = Path(args.results)
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    files = suite_files(args.suite or None)
    if not files:
        print("hil run: no suites to run yet (suites/test_<area>.py)", file=sys.stderr)
        return 0
    extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    argv = [
        *map(str, files),
        f"--lab={args.lab}",
        f"--alluredir={results}",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *[f"--board={b}" for b in args.board],
        *extra,
    ]
    code = pytest.main(argv)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("hil run: no tests selected", file=sys.stderr)
        return 0
    if code == pytest.ExitCode.USAGE_ERROR:
        return 2
    return 0 if code == pytest.ExitCode.OK else 1
