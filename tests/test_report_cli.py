"""`hil run` and `hil report [merge]` end to end: report, matrix, exit codes, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.report_helpers import CELLULAR_SUITE, WIFI_SUITE, lab_with, run_hil, write_suites

PASSING = """
def test_ok(board, shell):
    assert shell.run("true").exit_code == 0
"""
BREAKING = """
def test_breaks(board):
    raise RuntimeError("broken, not failed")
"""


def test_run_exit_status_is_0_iff_nothing_failed_or_broke(hil_cmd, tmp_path: Path) -> None:
    ok = write_suites(tmp_path / "ok", ethernet=PASSING)
    r = run_hil(hil_cmd, tmp_path, "run", "--board", "pi3-b", suites=ok)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    broken = write_suites(tmp_path / "broken", ethernet=PASSING, runtime=BREAKING)
    r = run_hil(hil_cmd, tmp_path, "run", "--board", "pi3-b", suites=broken)
    assert r.returncode == 1
    failing = write_suites(tmp_path / "failing", cellular=CELLULAR_SUITE)
    r = run_hil(hil_cmd, tmp_path, "run", suites=failing, env={"HIL_TEST_FAIL_ON": "pi4-a"})
    assert r.returncode == 1
    r = run_hil(hil_cmd, tmp_path, "run", suites=failing)
    assert r.returncode == 0


def test_run_writes_report_matrix_and_progress(hil_cmd, tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", wifi=WIFI_SUITE, cellular=CELLULAR_SUITE)
    r = run_hil(hil_cmd, tmp_path, "run", suites=suites, env={"HIL_TEST_FAIL_ON": "pi3-b"})
    assert r.returncode == 1, r.stderr
    # progress: one line per board and suite with the counts
    assert "pi4-a · wifi: 1 passed, 1 failed, 1 broken, 1 skipped" in r.stdout
    assert "pi3-b · cellular: 1 passed, 1 failed, 0 broken, 0 skipped" in r.stdout
    report = tmp_path / "out/report"
    for name in ("index.html", "matrix.html", "matrix.md", "matrix.json", "allure/index.html"):
        assert (report / name).is_file(), name
    index = (report / "index.html").read_text()
    assert 'href="allure/index.html"' in index and 'href="matrix.html"' in index
    allure = (report / "allure/index.html").read_text()
    assert 'href="../matrix.html"' in allure
    assert "googletagmanager" not in allure  # a lab report calls nobody
    doc = json.loads((report / "matrix.json").read_text())
    cells = {(c["modem"], c["os_release"], c["device_type"]): c for c in doc["modems"]["cells"]}
    e3372 = cells[("Huawei E3372", "2.113.4", "raspberrypi4-64")]
    assert (e3372["verdict"], e3372["passed"], e3372["failed"]) == ("qualified", 2, 0)
    ec25 = cells[("Quectel EC25", "2.108.27", "raspberrypi3")]
    assert (ec25["verdict"], ec25["failed"]) == ("failed", 1)
    assert ec25["failures"][0]["name"] == "test_registration[pi3-b]"
    assert ec25["failures"][0]["category"] == "Registration"
    areas = {(c["area"], c["device_type"]): c for c in doc["areas"]["cells"]}
    wifi = areas[("wifi", "raspberrypi4-64")]
    assert (wifi["verdict"], wifi["skipped"], wifi["broken"]) == ("failed", 1, 1)
    md = (report / "matrix.md").read_text()
    assert "| Quectel EC25 | ❌ failed (1/1/0/0) |" in md
    assert "hil report: file://" in r.stdout


def test_merge_runs_of_two_releases_into_one_matrix(hil_cmd, tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", cellular=CELLULAR_SUITE)
    old = lab_with(tmp_path, pi4_a="2.113.4")
    new = lab_with(tmp_path, pi4_a="2.114.0")
    r = run_hil(
        hil_cmd,
        tmp_path,
        "run",
        "--lab",
        str(old),
        "--board",
        "pi4-a",
        "--results",
        "out/r-old",
        "--report",
        "out/rep-old",
        suites=suites,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    r = run_hil(
        hil_cmd,
        tmp_path,
        "run",
        "--lab",
        str(new),
        "--board",
        "pi4-a",
        "--results",
        "out/r-new",
        "--report",
        "out/rep-new",
        suites=suites,
        env={"HIL_TEST_FAIL_ON": "pi4-a"},
    )
    assert r.returncode == 1
    r = run_hil(
        hil_cmd, tmp_path, "report", "merge", "out/r-old", "out/r-new", "--report", "out/merged"
    )
    assert r.returncode == 0, r.stderr
    assert "Huawei E3372 on 2.113.4 (raspberrypi4-64): qualified" in r.stdout
    assert "Huawei E3372 on 2.114.0 (raspberrypi4-64): failed" in r.stdout
    doc = json.loads((tmp_path / "out/merged/matrix.json").read_text())
    assert doc["modems"]["releases"] == ["2.113.4", "2.114.0"]
    summary = json.loads((tmp_path / "out/merged/allure/summary.json").read_text())
    assert summary["stats"]["total"] == 4  # the same tests on two releases are 4 results
    env = (tmp_path / "out/merged/matrix.md").read_text()
    assert "2.113.4 | 2.114.0" in env


def test_history_is_carried_between_runs_of_a_lab(hil_cmd, tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", ethernet=PASSING)
    for _ in range(2):
        r = run_hil(hil_cmd, tmp_path, "run", "--board", "pi3-b", suites=suites)
        assert r.returncode == 0, r.stderr
    history = tmp_path / "out/history/sim-lab.jsonl"
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(entries) == 2
    assert entries[0]["uuid"] != entries[1]["uuid"]
    # the same test, linked by its history id across the runs
    keys = [set(e["testResults"]) for e in entries]
    assert keys[0] == keys[1] and len(keys[0]) == 1


def test_report_usage_errors(hil_cmd, tmp_path: Path) -> None:
    r = run_hil(hil_cmd, tmp_path, "report", "merge", "nope")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nope" in r.stderr
    r = run_hil(hil_cmd, tmp_path, "report", "--results", "missing-dir")
    assert r.returncode == 2 and "missing-dir" in r.stderr


@pytest.mark.parametrize("name", ["empty"])
def test_report_of_no_results_is_still_a_report(hil_cmd, tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    r = run_hil(hil_cmd, tmp_path, "report", "--results", name, "--report", "rep", "--no-history")
    assert r.returncode == 0, r.stderr
    assert "0 results" in r.stdout
    assert (tmp_path / "rep/index.html").exists() and (tmp_path / "rep/allure/index.html").exists()
