"""The reporting half of the pytest plugin (loaded by `hil.pytest_plugin`).

With `--alluredir` set, every result carries the labels of DESIGN.md —
`board`, `device_type`, `os_release` (configured, or `VERSION` of the board's
/etc/os-release read over its console once per board per run), and on modem
tests `modem` and `vid_pid` — plus `parentSuite`/`suite`/`subSuite` (OS release
/ area / board) and `severity`. Every console command becomes an allure step
with its output; the test's transcripts are attached; a failed or broken test
gets the board's facts (nmcli, mmcli, ip, dmesg) attached. Everything written
to the results passes through the lab's redactor (`hil.report.redact`). At the
end, `environment.properties` and `categories.json` are written next to the
results. `--hil-progress` prints one line per board and suite (`hil run`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from allure_commons.model2 import Label, Parameter, Status, StatusDetails, TestStepResult
from allure_commons.reporter import AllureReporter
from allure_commons.types import AttachmentType
from allure_commons.utils import md5, now, uuid4

from hil.board import Board
from hil.errors import HarnessError, HilError
from hil.lab.models import ModemConfig
from hil.lab.secrets import REDACTOR
from hil.report import hookspecs, redact
from hil.report import labels as L
from hil.report.categories import write_categories
from hil.report.environment import environment, write_environment
from hil.report.facts import collect_failure_facts, read_os_release, render_facts
from hil.report.progress import AREA_PROP, BOARD_PROP, Progress
from hil.report.results import read_results
from hil.report.steps import CommandSteps
from hil.usb.board import BoardUsb


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil")
    group.addoption(
        "--hil-progress",
        action="store_true",
        default=False,
        help="one line per board and suite with its counts, instead of pytest's letters",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    redact.install()  # before allure-pytest creates its file logger
    if config.getoption("allure_report_dir", None):
        config.pluginmanager.register(AllureLabels(config), "hil-report")
    if config.getoption("--hil-progress") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Progress(config), "hil-progress")


@pytest.hookimpl(trylast=True)
def pytest_hil_modem_vid_pid(board: Board, modem: ModemConfig, shell: object) -> str | None:
    """The board's answer when the test's shell is at hand (udev over the console, the
    device at the modem's `usb_path`); else the lab config's (the sim world's modem of
    that name; physical labs configure none)."""
    if shell is not None:
        try:
            return BoardUsb(shell, board.name).find(modem.usb_path).vid_pid  # type: ignore[arg-type]
        except HilError:
            pass  # the board cannot tell (no udev, modem gone): the config may
    world = board.config.sim
    for plugged in world.modems if world else []:
        if plugged.name == modem.name:
            return plugged.vid_pid
    return None


# -- what a test is about ------------------------------------------------------
def board_of(item: pytest.Item) -> Board | None:
    callspec = getattr(item, "callspec", None)
    board = callspec.params.get("board") if callspec else None
    return board if isinstance(board, Board) else None


def group_of(item: pytest.Item) -> tuple[str, str] | None:
    """(board, area) of a test, for the progress lines."""
    board = board_of(item)
    return (board.name, L.area_of(item.path)) if board else None


def _modems_of(item: pytest.Item, board: Board) -> list[ModemConfig]:
    """The modems a test is about: its `modem` parameter, else all of its board's if it
    needs a modem or belongs to a modem area."""
    for source in (
        getattr(item, "funcargs", {}),
        getattr(getattr(item, "callspec", None), "params", {}),
    ):
        modem = source.get("modem") if source else None
        if isinstance(modem, ModemConfig):
            return [modem]
    needs = item.get_closest_marker("needs")
    if (needs and "modem" in needs.args) or L.area_of(item.path) in L.MODEM_AREAS:
        return list(board.config.modems)
    return []


def _marked_labels(item: pytest.Item) -> set[str]:
    """Label types a test sets itself with allure decorators (those win)."""
    return {m.kwargs.get("label_type", "") for m in item.iter_markers("allure_label")}


class AllureLabels:
    """pytest plugin: labels, steps, transcripts and facts of each allure result."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.os_releases: dict[str, str] = {}
        self.steps: CommandSteps | None = None

    @property
    def reporter(self) -> AllureReporter | None:
        listener = self.config.pluginmanager.get_plugin("allure_listener")
        return listener.allure_logger if listener else None

    def pytest_sessionstart(self) -> None:
        if self.reporter is not None:
            self.steps = CommandSteps(self.reporter)
            self.steps.start()

    def pytest_sessionfinish(self) -> None:
        if self.steps is not None:
            self.steps.stop()
        if not hasattr(self.config, "workerinput"):
            self._write_run_files()

    # -- labels --------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        board = board_of(item)
        if self.steps is not None:
            self.steps.take_transcripts()  # what came before this test is not its evidence
        if board is not None:
            area = L.area_of(item.path)
            item.user_properties += [(BOARD_PROP, board.name), (AREA_PROP, area)]
            release = self.os_release(board)
            item.hil_os_release = release  # type: ignore[attr-defined]
            own = _marked_labels(item)
            values = {
                L.BOARD: board.name,
                L.DEVICE_TYPE: board.device_type,
                L.OS_RELEASE: release,
                **L.suite_labels(release, area, board.name),
            }
            if L.SEVERITY not in own:
                marker = item.get_closest_marker("severity")
                values[L.SEVERITY] = marker.args[0] if marker else L.default_severity(area)
            self._add_labels({k: v for k, v in values.items() if k not in own})
        yield
        if board is not None:
            self._fix_parameters(board, item.hil_os_release)  # type: ignore[attr-defined]

    def os_release(self, board: Board) -> str:
        """Configured, or read over the console once per board per run."""
        if board.config.os_release:
            return board.config.os_release
        if board.name not in self.os_releases:
            root = Path(self.config.getoption("--transcripts"))
            muted = self.steps.muted() if self.steps else contextlib.nullcontext()
            try:
                with muted:
                    self.os_releases[board.name] = read_os_release(
                        board, root / board.name / "os-release.log"
                    )
            except HilError:
                self.os_releases[board.name] = L.UNKNOWN
        return self.os_releases[board.name]

    def _add_labels(self, values: dict[str, str]) -> None:
        result = self.reporter.get_test(None) if self.reporter else None
        if result is not None:
            result.labels.extend(Label(name=k, value=v) for k, v in values.items())

    def _fix_parameters(self, board: Board, release: str) -> None:
        """The board parameter by name (not an object's address), and the OS release:
        the same test on another release is another test, not a retry of this one."""
        result = self.reporter.get_test(None) if self.reporter else None
        if result is None:
            return
        for p in result.parameters:
            if p.name == "board":
                p.value = board.name
        if not any(p.name == L.OS_RELEASE for p in result.parameters):
            result.parameters.append(Parameter(name=L.OS_RELEASE, value=release))

    # -- failures: the board's facts --------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        board = board_of(item)
        if report.failed and call.excinfo and call.excinfo.errisinstance(HarnessError):
            item.hil_console_failed = True  # type: ignore[attr-defined]
        if board is None or not report.failed or call.when not in ("setup", "call"):
            return
        if call.when == "setup" and call.excinfo and call.excinfo.errisinstance(HarnessError):
            return  # the console itself failed: there is no board to ask
        self._attach_facts(item, board)

    def _attach_facts(self, item: pytest.Item, board: Board) -> None:
        reporter = self.reporter
        result = reporter.get_test(None) if reporter else None
        if reporter is None or result is None:
            return
        step_uuid = uuid4()
        reporter.start_step(
            result.uuid,
            step_uuid,
            TestStepResult(name="board facts after the failure", start=now()),
        )
        shell = getattr(item, "funcargs", {}).get("shell")
        facts, error = [], None
        try:
            if shell is not None:
                facts = collect_failure_facts(shell)
            else:
                root = Path(self.config.getoption("--transcripts"))
                path = root / board.name / f"{_safe(REDACTOR.redact(item.name))}.facts.log"
                with board.open_shell(transcript=path, timeout=20) as own:
                    facts = collect_failure_facts(own)
        except HilError as e:
            error = str(e)
        text = render_facts(board.name, facts, error)
        reporter.attach_data(
            uuid4(),
            text,
            name="board facts",
            attachment_type=AttachmentType.TEXT,
            parent_uuid=step_uuid,
        )
        status = Status.BROKEN if error else Status.PASSED
        details = StatusDetails(message=error) if error else None
        reporter.stop_step(step_uuid, stop=now(), status=status, statusDetails=details)

    # -- end of a test: modem labels, transcripts, history id ----------------------
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        board = board_of(item)
        if board is not None:
            self._modem_labels(item, board)
        yield
        result = self.reporter.get_test(None) if self.reporter else None
        if result is None:
            return
        self._attach_transcripts(item, result.uuid)
        if board is not None:
            # allure-pytest hashed the Board object's repr; use the stable values
            values = sorted((p.name, p.value) for p in result.parameters if not p.excluded)
            result.historyId = md5(result.fullName or item.nodeid, *(f"{k}={v}" for k, v in values))

    def _modem_labels(self, item: pytest.Item, board: Board) -> None:
        modems = _modems_of(item, board)
        if not modems:
            return
        shell = getattr(item, "funcargs", {}).get("shell")
        if getattr(item, "hil_console_failed", False) or getattr(shell, "closed", False):
            # a console that just failed would only time out again; a test that power
            # cycled the board closed its first shell (and opened another)
            shell = None
        values: list[tuple[str, str]] = []
        for modem in modems:
            # one context per modem: a generator's context manager is single-use
            muted = self.steps.muted() if self.steps else contextlib.nullcontext()
            try:
                with muted:
                    vid_pid = self.config.hook.pytest_hil_modem_vid_pid(
                        board=board, modem=modem, shell=shell
                    )
            except Exception as e:  # a label must never break the teardown
                # (an exception here would skip the test's teardown: pytest then fails
                # the next test with "previous item was not torn down properly")
                if not isinstance(e, HilError):
                    item.warn(pytest.PytestWarning(f"{modem.name}: no VID:PID label: {e!r}"))
                vid_pid = None
            values += [(L.MODEM, modem.model), (L.VID_PID, vid_pid or L.UNKNOWN)]
        result = self.reporter.get_test(None) if self.reporter else None
        if result is not None:
            result.labels.extend(Label(name=k, value=v) for k, v in values)

    def _attach_transcripts(self, item: pytest.Item, parent: str) -> None:
        paths = self.steps.take_transcripts() if self.steps else []
        own = getattr(item, "hil_transcript", None)
        if own is not None:
            paths.insert(0, Path(own))
        for path in dict.fromkeys(paths):
            if path.exists() and path.stat().st_size:
                self.reporter.attach_file(  # type: ignore[union-attr]
                    uuid4(),
                    str(path),
                    name=f"console {path.name}",
                    attachment_type=AttachmentType.TEXT,
                    parent_uuid=parent,
                )

    # -- the run's description ------------------------------------------------------
    def _write_run_files(self) -> None:
        results_dir = Path(self.config.getoption("allure_report_dir"))
        if not results_dir.is_dir():
            return
        lab = getattr(self.config, "_hil_lab", None)
        outcomes = read_results([results_dir])
        write_environment(results_dir, environment(outcomes, [lab.name] if lab else []))
        write_categories(results_dir)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]
