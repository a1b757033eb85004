"""`hil run` — every suite against every board of the lab, with results and a report."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hil.board import Board
from hil.cli.common import add_lab_option, load
from hil.cli.report_cmd import print_summary
from hil.errors import ConfigError
from hil.report.build import build_report, default_history
from hil.suites import SUITE_NAMES, suite_files


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the suites against the boards of a lab",
        description="Run every suite (or those named with --suite) against every board of the "
        "lab. Writes allure results (emptied first) and an HTML report with the qualification "
        "matrix (index.html opens it). Exit 0 iff no test failed or broke. Arguments after "
        "`--` go to pytest.",
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
    p.add_argument(
        "--workers",
        default="auto",
        metavar="N",
        help="boards run in parallel on N worker processes, each board's tests in "
        "order on one worker (default auto: one per board up to the CPU count; "
        "1 runs everything in this process)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="fail at once if a board is in use by another run (default: wait)",
    )
    p.add_argument(
        "--history",
        metavar="FILE",
        help="Allure history carried between runs of this lab (default out/history/<lab>.jsonl)",
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
    lab = load(args)  # config errors are exit 2 before anything starts
    boards = [b for b in lab.boards if not args.board or b.name in args.board]
    workers = _workers(args.workers, len(boards))
    results = Path(args.results)
    if not getattr(args, "keep_results", False):  # `hil qualify` accumulates releases
        shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True, exist_ok=True)
    chosen = getattr(args, "history", None)  # `hil qualify` passes its own namespace
    history = Path(chosen) if chosen else default_history([lab.name])
    files = suite_files(args.suite or None)
    if not files:
        print("hil run: no suites to run yet (suites/test_<area>.py)", file=sys.stderr)
        print_summary(build_report([results], Path(args.report), history=history))
        return 0
    extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    argv = [
        *map(str, files),
        f"--lab={args.lab}",
        f"--alluredir={results}",
        "--hil-progress",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *[f"--board={b}" for b in args.board],
        *extra,
    ]
    if workers > 1:
        argv += ["-n", str(workers), "--dist", "loadgroup"]
    with ExitStack() as stack:
        for b in boards:
            if b.is_shared_hardware:  # sim/replay/qemu boards are private to this run
                lock = Board(lab, b).lock()
                lock.acquire(
                    wait=not args.no_wait,
                    notify=lambda msg: print(f"hil run: {msg}", file=sys.stderr),
                )
                stack.callback(lock.release)
        if workers > 1 and any(b.is_sim for b in boards):
            stack.enter_context(_shared_sim(lab))
        code = pytest.main(argv)
    if code == pytest.ExitCode.USAGE_ERROR:
        return 2
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("hil run: no tests selected", file=sys.stderr)
    built = build_report([results], Path(args.report), history=history)
    print_summary(built)
    counts = built.counts
    if counts["failed"] or counts["broken"]:
        return 1
    # a run that ended without results for what it collected (interrupted,
    # internal error) did not pass either
    return 0 if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) else 1


def _workers(value: str, boards: int) -> int:
    if value == "auto":
        return max(1, min(boards, os.cpu_count() or 1))
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"--workers: expected a number or auto, got {value!r}") from None
    if n < 1:
        raise ConfigError("--workers: must be at least 1")
    return n


@contextmanager
def _shared_sim(lab) -> Iterator[None]:
    """Serve the sim boards from this process for all workers (one world per board)."""
    import tempfile

    from hil.sim.server import published, serving

    sim_boards = [b.name for b in lab.boards if b.is_sim]
    if sim_boards and all(published(lab.name, name) for name in sim_boards):
        yield  # already served for this run (e.g. by `hil qualify`)
        return

    with tempfile.TemporaryDirectory(prefix="hil-run-sim-") as tmp, serving(lab, Path(tmp)):
        yield
