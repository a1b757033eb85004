"""Every suite test goes red under the faults it declares, and only under those.

Runs the suites against the sim lab once without faults and once per fault (in
separate pytest processes, spread over the xdist workers). Board faults must
turn exactly the declaring tests red with a reason; console faults must leave
verdicts unchanged or break a test with a clear reason.
"""

from __future__ import annotations

import functools

import pytest

from hil.faultmatrix import (
    Outcome,
    board_faults,
    check_board_fault,
    check_console_fault,
    console_faults,
    run_suites,
)
from hil.suites import fault_coverage, suite_files
from tests.conftest import SIM_LAB

pytestmark = pytest.mark.slow


@functools.cache
def coverage() -> dict[str, list[str]]:
    """test function id → faults it declares."""
    by_test: dict[str, list[str]] = {}
    for fault, tests in fault_coverage(str(SIM_LAB)).items():
        for t in tests:
            by_test.setdefault(t, []).append(fault)
    return by_test


@functools.cache
def baseline() -> dict[str, Outcome]:
    return run_suites(str(SIM_LAB), [])


def _covered_faults() -> list[str]:
    if not suite_files():
        return []
    declared = {f for fs in coverage().values() for f in fs}
    return [f for f in board_faults() if f in declared]


def test_every_suite_test_declares_a_fault_that_turns_it_red() -> None:
    if not suite_files():
        return
    tests = {nodeid.split("[")[0] for nodeid in baseline()}
    undeclared = sorted(t for t in tests if not coverage().get(t))
    assert not undeclared, f"suite tests no fault turns red: {undeclared}"


def test_without_faults_nothing_is_red() -> None:
    red = {k: v for k, v in baseline().items() if v.outcome in ("failed", "broken")}
    assert not red, red


@pytest.mark.parametrize("fault", _covered_faults())
def test_board_fault_turns_exactly_its_tests_red(fault: str) -> None:
    problems = check_board_fault(fault, baseline(), run_suites(str(SIM_LAB), [fault]), coverage())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fault", console_faults() if suite_files() else [])
def test_console_fault_never_changes_a_verdict(fault: str) -> None:
    problems = check_console_fault(fault, baseline(), run_suites(str(SIM_LAB), [fault]))
    assert not problems, "\n".join(problems)
