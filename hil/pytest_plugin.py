"""The pytest plugin behind the suites (registered through the `pytest11` entry point).

Options `--lab` and `--board`; fixtures `lab`, `board` (tests are parameterised
over the lab's boards, ids are board names) and `shell`; markers
`needs(...)` (a board that lacks it skips with the reason) and `faults(...)`
(the lab faults that must turn the test red).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.board import Board, FaultUnsupported
from hil.console import ShellSession
from hil.errors import HilError
from hil.lab import DEFAULT_LAB, FAULTS, LabConfig, load_lab
from hil.lab.secrets import REDACTOR

#: allure labels, steps, attachments and progress lines live in the reporting half
pytest_plugins = ["hil.report.pytest_hooks"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hardware-in-the-loop")
    group.addoption("--lab", default=str(DEFAULT_LAB), help="lab config (YAML)")
    group.addoption(
        "--board",
        action="append",
        default=[],
        metavar="NAME",
        help="run only on these boards (repeatable)",
    )
    group.addoption(
        "--transcripts",
        default="out/transcripts",
        metavar="DIR",
        help="where console transcripts are written",
    )
    group.addoption(
        "--lab-fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch this lab fault on for every board for the whole run "
        "(repeatable; as `faults:` in the lab config)",
    )
    group.addoption(
        "--outcomes",
        metavar="FILE",
        help="write each test's outcome (passed/failed/broken/skipped) and reason as JSON",
    )


@pytest.hookimpl(trylast=True)  # after the terminal reporter exists
def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--outcomes", None)
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Outcomes(path), "hil-outcomes")
    config.addinivalue_line(
        "markers",
        "needs(*what): board capabilities the test needs (modem, wifi, ethernet, hotspot)",
    )
    config.addinivalue_line(
        "markers", "faults(*names): lab faults that must turn this test red (see `hil sim faults`)"
    )
    config.addinivalue_line(
        "markers",
        "boot_case: the test applies a case through the boot partition and reboots first "
        "(the previous case's undo reboot is folded into that reboot)",
    )
    _redact_terminal(config)


def _redact_terminal(config: pytest.Config) -> None:
    """What pytest prints (test ids, tracebacks, captured output) passes the lab's redactor.

    A CI log keeps the terminal output of a run; a secret in an assertion
    message or a parametrized id must be masked there as in the reports.
    """
    if config.pluginmanager.get_plugin("terminalreporter") is None:
        return
    writer = config.get_terminal_writer()
    write = writer.write

    def redacted(msg: str, *, flush: bool = False, **markup: bool) -> None:
        write(REDACTOR.redact(msg), flush=flush, **markup)

    writer.write = redacted  # type: ignore[method-assign]


def _lab(config: pytest.Config) -> LabConfig:
    cached = getattr(config, "_hil_lab", None)
    if cached is None:
        try:
            cached = load_lab(config.getoption("--lab"))
        except HilError as e:
            raise pytest.UsageError(str(e)) from None
        config._hil_lab = cached  # type: ignore[attr-defined]
    return cached


def _boards(config: pytest.Config) -> list[Board]:
    cached = getattr(config, "_hil_boards", None)
    if cached is None:
        lab = _lab(config)
        wanted = config.getoption("--board")
        unknown = set(wanted) - {b.name for b in lab.boards}
        if unknown:
            raise pytest.UsageError(
                f"--board: no board named {', '.join(sorted(unknown))} "
                f"in {config.getoption('--lab')}"
            )
        extra = config.getoption("--lab-fault")
        for name in extra:
            if name not in FAULTS:
                raise pytest.UsageError(f"--lab-fault: unknown fault {name!r}")
        for b in lab.boards:  # as if the lab config listed them: on from boot
            b.faults = [*b.faults, *(f for f in extra if f not in b.faults)]
        cached = [Board(lab, b) for b in lab.boards if not wanted or b.name in wanted]
        config._hil_boards = cached  # type: ignore[attr-defined]
    return cached


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # only where `board` is this plugin's fixture (a test module may define its own)
    defs = metafunc.definition._fixtureinfo.name2fixturedefs.get("board", ())
    if defs and defs[-1].func.__module__ == __name__:
        boards = _boards(metafunc.config)
        if "modem" in metafunc.fixturenames:
            # one test per modem of each board (a board without modems: one, skipped)
            pairs = [(b, m) for b in boards for m in (b.config.modems or [None])]
            metafunc.parametrize(
                "board,modem",
                pairs,
                ids=[f"{b.name}-{m.name}" if m else b.name for b, m in pairs],
                indirect=["board"],
                scope="session",
            )
            return
        metafunc.parametrize(
            "board", boards, ids=[b.name for b in boards], indirect=True, scope="session"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each board's tests stay together, in order, on one xdist worker (--dist loadgroup)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        board = callspec.params.get("board") if callspec else None
        if isinstance(board, Board):
            item.add_marker(pytest.mark.xdist_group(name=board.name))


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> LabConfig:
    """The lab config of this run."""
    return _lab(pytestconfig)


@pytest.fixture(scope="session")
def board(request: pytest.FixtureRequest) -> Board:
    """The board under test (the test is parameterised over the lab's boards)."""
    b: Board = request.param
    for name in request.config.getoption("--lab-fault"):
        if name not in FAULTS:
            raise pytest.UsageError(f"--lab-fault: unknown fault {name!r}")
        if b.lab.supports(name):
            b.lab.set_fault(name, True)
    # xdist does not keep a board's tests on one worker: a reboot owed in this worker
    # could not be paid before another worker's test of the board; reboot at once
    b.batch_reboots = not hasattr(request.config, "workerinput")
    request.addfinalizer(lambda: _pay_owed_reboot(request.config, b))
    return b


def _pay_owed_reboot(config: pytest.Config, board: Board) -> None:
    """The run leaves every board as it found it: a reboot still owed (the last
    boot-partition case's undo) is done before the run ends."""
    if not board.reboot_owed:
        return
    board.folds_reboot = False
    path = Path(config.getoption("--transcripts")) / board.name / "owed-reboot.log"
    board.open_shell(transcript=path).close()


@pytest.fixture(autouse=True)
def _hil_boot_case(request: pytest.FixtureRequest) -> None:
    """A `boot_case` test reboots first itself: a reboot the board is owed waits for it
    (one reboot instead of two); any other test gets the owed reboot when it opens a
    shell (`Board.open_shell`)."""
    if "board" not in request.fixturenames:
        return
    board = request.getfixturevalue("board")
    if isinstance(board, Board):
        board.folds_reboot = request.node.get_closest_marker("boot_case") is not None


def _record_active_faults(request: pytest.FixtureRequest) -> None:
    """The lab faults on while the test runs (the fault matrix needs them: a fault
    the board's lab cannot produce leaves its tests as they were)."""
    board: Board = request.getfixturevalue("board")
    request.node.user_properties.append(("hil_faults", sorted(board.lab.active_faults())))


@pytest.fixture(autouse=True)
def _hil_record(request: pytest.FixtureRequest) -> None:
    """The recording of a run, beside the transcripts of each board: its lab config
    (`board.yaml`, secrets masked) and the tests in the order they ran (`tests.list`),
    what `hil replay` needs to run the same tests against the same answers."""
    if "board" not in request.fixturenames:
        return
    board = request.getfixturevalue("board")
    if not isinstance(board, Board):  # a test module's own `board` parameter
        return
    directory = Path(request.config.getoption("--transcripts")) / board.name
    done: set[str] = request.config.__dict__.setdefault("_hil_recorded_boards", set())
    from hil.board.labside import LAB_SIDE_RECORD
    from hil.repro.recording import TESTS_LIST, write_board_yaml

    if board.name not in done:
        write_board_yaml(directory, board.config)
        (directory / TESTS_LIST).unlink(missing_ok=True)
        (directory / LAB_SIDE_RECORD).unlink(missing_ok=True)
        board.recording_dir = directory
        done.add(board.name)
    with (directory / TESTS_LIST).open("a", encoding="utf-8") as f:
        # masked like everything under out/ (a test id may carry a parameter's secret)
        f.write(REDACTOR.redact(f"{request.node.path}::{request.node.nodeid.split('::', 1)[1]}\n"))


@pytest.fixture(autouse=True)
def _hil_needs(request: pytest.FixtureRequest, _hil_record: None) -> None:
    # after `_hil_record`: a test this board skips is still one of its recorded tests,
    # so that a replay runs (and skips) it too
    if "board" in request.fixturenames and request.node.get_closest_marker("faults"):
        _record_active_faults(request)
    if "modem" in request.fixturenames and request.getfixturevalue("modem") is None:
        pytest.skip(
            f"{request.getfixturevalue('board').name}: lab config gives this board no modem"
        )
    marker = request.node.get_closest_marker("needs")
    if marker is None or "board" not in request.fixturenames:
        return
    board: Board = request.getfixturevalue("board")
    missing = [n for n in marker.args if n not in board.capabilities()]
    if missing:
        pytest.skip(f"{board.name}: lab config gives this board no {', '.join(missing)}")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]


@pytest.fixture
def shell(request: pytest.FixtureRequest, board: Board) -> Iterator[ShellSession]:
    """A shell on the board's console; its transcript is the test's evidence."""
    root = Path(request.config.getoption("--transcripts"))
    path = root / board.name / f"{_safe(REDACTOR.redact(request.node.name))}.log"
    path.unlink(missing_ok=True)
    session = board.open_shell(transcript=path)
    request.node.hil_transcript = path  # type: ignore[attr-defined]
    try:
        yield session
    finally:
        session.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # a fault the rig cannot produce is a skip with the reason, not an error
    item.hil_fault_guard = True  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(FaultUnsupported):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")


def outcome_of(report: pytest.TestReport) -> str:
    """allure's view: an AssertionError fails a test, any other exception breaks it."""
    if report.skipped:
        return "skipped"
    if report.passed:
        return "passed"
    excinfo = getattr(report, "longrepr", None)
    text = str(excinfo) if excinfo is not None else ""
    if report.when == "call" and ("AssertionError" in text or "\nE       assert" in text):
        return "failed"
    return "broken"


def _reason(report: pytest.TestReport) -> str:
    """One line: where the test went red and the exception's own message (the last
    line of a long traceback is `path:line: ExceptionType`, without the message)."""
    text = getattr(report, "longreprtext", "") or str(report.longrepr or "")
    last = text.strip().splitlines()[-1] if text.strip() else ""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = (getattr(crash, "message", "") or "").strip()
    where = re.match(r"^(\S+:\d+): [\w.]+$", last)
    if message and where:
        last = f"{where[1]}: {message.splitlines()[0]}"
    return REDACTOR.redact(last)


class _Outcomes:
    """Collects per-test outcomes for `--outcomes FILE` (the fault matrix reads them)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.results: dict[str, dict[str, str]] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        current = self.results.get(report.nodeid)
        if (
            report.when == "call"
            or (report.when == "setup" and not report.passed)
            or (
                report.when == "teardown"
                and report.failed
                and current
                and current["outcome"] == "passed"
            )
        ):
            outcome = outcome_of(report)
            if report.when == "teardown":
                outcome = "broken"
            reason = ""
            if not report.passed:
                reason = _reason(report)
            entry = {"outcome": outcome, "reason": reason[:500]}
            faults = dict(report.user_properties).get("hil_faults")
            if faults is not None:
                entry["faults"] = faults
            self.results[report.nodeid] = entry

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        import json

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path).write_text(json.dumps(self.results, indent=1, sort_keys=True))
