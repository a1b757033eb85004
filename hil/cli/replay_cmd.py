"""`hil replay` — re-run the suites against a board served from a recorded run."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="re-run the recorded tests against boards served from a recording, offline",
        description="Serve each recorded board from its console transcripts (a `replay://` "
        "console: the same answers, in the same order, to the same commands) and re-run the "
        "tests of the recording against them: deterministic, offline, no hardware — to debug "
        "a test or a parser against exactly what the board answered. TRANSCRIPT is a run's "
        "transcripts directory (`hil run`/pytest `--transcripts`, default out/transcripts), "
        "one board's directory of it, or one .jsonl. A command the recording does not have "
        "makes its test red with a 'not in recording' error. Exit 0 iff no test failed or "
        "broke.",
    )
    p.add_argument("transcript", metavar="TRANSCRIPT", help="a recording (see above)")
    p.add_argument(
        "--lab",
        metavar="PATH",
        help="the lab config of the recorded run (default: the board.yaml recorded with it)",
    )
    p.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="NAME",
        help="run these suites rather than the recorded tests (repeatable)",
    )
    p.add_argument("--outcomes", metavar="FILE", help="write each test's outcome as JSON")
    p.add_argument(
        "--transcripts",
        default="out/replay-transcripts",
        metavar="DIR",
        help="console transcripts of the replay (default out/replay-transcripts)",
    )
    p.add_argument(
        "--serve",
        action="store_true",
        help="only serve the boards: print each board's pty, until interrupted",
    )
    p.add_argument(
        "--lab-fault",
        action="append",
        default=[],
        metavar="NAME",
        help="the --lab-fault of the recorded run (repeatable): the recording has the fault "
        "already, the tests must be parameterised and skipped as they were",
    )
    p.add_argument(
        "--test",
        action="append",
        default=[],
        metavar="PATH",
        help="also run this test (a file or pytest node id; repeatable): a test being "
        "debugged against the recorded answers",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pytest
    import yaml

    from hil.errors import ConfigError
    from hil.repro.recording import recorded_tests
    from hil.repro.replay import ReplayServer, replay_lab
    from hil.suites import SUITE_NAMES, suite_files, suites_dir

    unknown = [s for s in args.suite if s not in SUITE_NAMES]
    if unknown:
        raise ConfigError(f"--suite: unknown suite {', '.join(unknown)}")
    lab = replay_lab(args.transcript, args.lab)
    if args.serve:
        server = ReplayServer(lab).start()
        try:
            for name, board in server.boards.items():
                print(f"{name}: {board.pty_path} ({len(board.recording)} recorded commands)")
            sys.stdout.flush()
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
        finally:
            server.stop()
    tests = (
        [str(p) for p in suite_files(args.suite)] if args.suite else recorded_tests(args.transcript)
    )
    if not tests:
        tests = [str(p) for p in suite_files()]
    with tempfile.TemporaryDirectory(prefix="hil-replay-") as tmp:
        lab_file = Path(tmp) / "lab.yaml"
        lab_file.write_text(yaml.safe_dump(lab.model_dump(mode="json", exclude_none=True)))
        argv = [
            *tests,
            *args.test,
            *args.test,
            f"--lab={lab_file}",
            f"--transcripts={args.transcripts}",
            f"--rootdir={suites_dir().parent}",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            *([f"--outcomes={args.outcomes}"] if args.outcomes else []),
            *[f"--lab-fault={f}" for f in args.lab_fault],
        ]
        code = pytest.main(argv)
    if code == pytest.ExitCode.USAGE_ERROR:
        return 2
    return 0 if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) else 1
