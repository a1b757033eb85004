"""The agreement report: verdicts of the two tiers compared, differences explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.vrig.agreement import LIMITS, compare, render, run_outcomes

REPO = Path(__file__).resolve().parents[1]
CLOCK = "suites/test_requirements.py::test_clock_syncs_with_default_pools"


def test_differences_are_documented_limits_or_unexplained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LIMITS, CLOCK, "no chrony in the guest (chronyc: command not found)")
    sim = {
        f"{CLOCK}[vrig-a]": {"outcome": "passed", "reason": ""},
        "suites/test_ethernet.py::test_static_ip_on_ethernet[vrig-a]": {"outcome": "passed"},
        "suites/test_ethernet.py::test_default_wired_connection_comes_up[vrig-a]": {
            "outcome": "passed"
        },
    }
    vrig = {
        f"{CLOCK}[vrig-a]": {"outcome": "failed", "reason": "chronyc: command not found"},
        "suites/test_ethernet.py::test_static_ip_on_ethernet[vrig-a]": {"outcome": "passed"},
        "suites/test_ethernet.py::test_default_wired_connection_comes_up[vrig-a]": {
            "outcome": "failed",
            "reason": "AssertionError: eth0 has no IPv4 address",
        },
    }
    rows = {r.test.split("::")[-1]: r for r in compare(sim, vrig)}
    assert rows["test_static_ip_on_ethernet[vrig-a]"].agrees
    assert rows["test_clock_syncs_with_default_pools[vrig-a]"].note == LIMITS[CLOCK]
    assert rows["test_default_wired_connection_comes_up[vrig-a]"].note == "UNEXPLAINED"
    text = render(list(rows.values()))
    assert "3 tests: 1 same verdict, 1 documented limits, 1 unexplained." in text
    assert "UNEXPLAINED: AssertionError: eth0 has no IPv4 address" in text


def test_sim_side_runs_the_suites_on_the_virtual_rigs_configuration(tmp_path: Path) -> None:
    """The sim half for real: the vrig's board on a sim, every suite, outcomes read back."""
    outcomes = run_outcomes(
        REPO / "lab-config" / "vrig-sim.yaml", ["ethernet"], tmp_path, quiet=True
    )
    assert {k.split("::")[-1]: v["outcome"] for k, v in outcomes.items()} == {
        "test_default_wired_connection_comes_up[vrig-a]": "passed",
        "test_static_ip_on_ethernet[vrig-a]": "passed",
    }
    for limit in LIMITS:  # every documented limit names a test that exists
        path, name = limit.split("::")
        assert f"def {name}(" in (REPO / path).read_text(), limit
