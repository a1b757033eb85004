"""Progress while a run goes: one line per board and suite, with its counts.

The watcher of a nightly run sees a line when a board starts a suite and one
when it finishes it (`pi4-a · wifi: 11 passed, 1 failed, 0 broken, 2 skipped
in 3m12s`). Lines are formatted with rich and written through pytest's
terminal writer; pytest's own per-test letters are turned off, its summary
of failures stays. Works in the controller of an xdist run too: groups are
known from each report's user properties.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from rich.console import Console
from rich.text import Text

BOARD_PROP = "hil_board"
AREA_PROP = "hil_area"


@dataclass
class Group:
    board: str
    area: str
    total: int | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"passed": 0, "failed": 0, "broken": 0, "skipped": 0}
    )
    started: float = field(default_factory=time.monotonic)
    done_ids: set[str] = field(default_factory=set)
    finished: bool = False


def _outcome(report: pytest.TestReport) -> str | None:
    """passed/failed/broken/skipped once a test's outcome is known, else None."""
    if report.when == "setup":
        if report.skipped:
            return "skipped"
        if report.failed:
            return "broken"
        return None
    if report.when == "call":
        if report.skipped:
            return "skipped"
        if report.failed:
            # an assertion is a failure; any other exception breaks the test (as allure says)
            excinfo = getattr(report, "longrepr", None)
            crash = getattr(excinfo, "reprcrash", None)
            message = getattr(crash, "message", "") or ""
            return (
                "failed"
                if message.startswith(("AssertionError", "assert ", "Failed"))
                else "broken"
            )
        return "passed"
    return None


def _group_of_nodeid(nodeid: str, boards: list[str]) -> tuple[str, str] | None:
    """(board, area) of `suites/test_wifi.py::test_x[pi4-a-2.4GHz]`: the board is the
    longest board name that is a `-`-separated part of the parameter id."""
    from hil.report.labels import area_of

    path, _, rest = nodeid.partition("::")
    params = rest[rest.find("[") + 1 : -1] if rest.endswith("]") else ""
    for name in boards:  # longest first: `pi4` must not win over `pi4-a`
        if params == name or f"-{params}-".find(f"-{name}-") >= 0:
            return name, area_of(path)
    return None


class Progress:
    """pytest plugin: one rich line per board × suite."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.groups: dict[tuple[str, str], Group] = {}
        self.totals: dict[tuple[str, str], int] = {}
        self.outcomes: dict[str, str] = {}
        self.boards: list[str] | None = None

    def pytest_sessionstart(self) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.showfspath = False  # no file names with letters after them: lines instead

    # -- what to expect --------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from hil.report.pytest_hooks import group_of

        for item in items:
            key = group_of(item)
            if key is not None:
                self.totals[key] = self.totals.get(key, 0) + 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        """Under xdist the controller collects nothing: count what the first worker found."""
        if self.totals:
            return
        for nodeid in ids:
            key = _group_of_nodeid(nodeid, self._board_names())
            if key is not None:
                self.totals[key] = self.totals.get(key, 0) + 1
        for key, group in self.groups.items():
            group.total = self.totals.get(key)

    # -- quiet per-test letters ---------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Iterator[None]:
        outcome = yield
        category, _letter, word = outcome.get_result()
        outcome.force_result((category, "", word))  # no letter: the lines say it

    # -- counting ------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """A group starts (and its clock) when its first test starts."""
        key = _group_of_nodeid(nodeid, self._board_names())
        if key is not None:
            self._group(key)

    def _board_names(self) -> list[str]:
        if self.boards is None:
            from hil.pytest_plugin import _lab

            try:
                names = [b.name for b in _lab(self.config).boards]
            except pytest.UsageError:
                names = []
            self.boards = sorted(names, key=len, reverse=True)
        return self.boards

    def _group(self, key: tuple[str, str]) -> Group:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(*key, total=self.totals.get(key))
            self._line(self._start_text(group))
        return group

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if BOARD_PROP not in props:
            return
        group = self._group((str(props[BOARD_PROP]), str(props[AREA_PROP])))
        result = _outcome(report)
        if result is not None and report.nodeid not in self.outcomes:
            self.outcomes[report.nodeid] = result
            group.counts[result] += 1
        if report.when == "teardown":
            if report.failed and self.outcomes.get(report.nodeid) == "passed":
                group.counts["passed"] -= 1
                group.counts["broken"] += 1
                self.outcomes[report.nodeid] = "broken"
            group.done_ids.add(report.nodeid)
            if group.total is not None and len(group.done_ids) >= group.total:
                self._finish(group)

    def pytest_sessionfinish(self) -> None:
        for group in self.groups.values():
            if not group.finished:
                self._finish(group)

    # -- output ----------------------------------------------------------------
    def _start_text(self, g: Group) -> Text:
        n = f" ({g.total} test{'s' if g.total != 1 else ''})" if g.total else ""
        return Text.assemble(("▶ ", "bold cyan"), (g.board, "bold"), " · ", g.area, n)

    def _finish(self, g: Group) -> None:
        g.finished = True
        c = g.counts
        bad = c["failed"] or c["broken"]
        took = time.monotonic() - g.started
        mins, secs = divmod(int(took), 60)
        self._line(
            Text.assemble(
                ("✘ " if bad else "✔ ", "bold red" if bad else "bold green"),
                (g.board, "bold"),
                " · ",
                g.area,
                ": ",
                (f"{c['passed']} passed", "green"),
                ", ",
                (f"{c['failed']} failed", "red" if c["failed"] else ""),
                ", ",
                (f"{c['broken']} broken", "yellow" if c["broken"] else ""),
                ", ",
                f"{c['skipped']} skipped",
                f" in {mins}m{secs:02d}s" if mins else f" in {took:.1f}s",
            )
        )

    def _line(self, text: Text) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        markup = bool(tr and tr._tw.hasmarkup)
        buf = io.StringIO()
        Console(
            file=buf,
            force_terminal=markup,
            no_color=not markup,
            width=400,
            highlight=False,
            soft_wrap=True,
        ).print(text)
        line = buf.getvalue().rstrip("\n")
        if tr is not None:
            tr.ensure_newline()
            tr.write_line(line)
        else:
            print(line, flush=True)
