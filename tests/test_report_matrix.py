"""The qualification matrix: verdict rule, cells, merging attempts, and its renderings."""

from __future__ import annotations

import json

from hil.report.categories import categorize
from hil.report.matrix import FAILED, NOT_TESTED, QUALIFIED, area_matrix, modem_matrix
from hil.report.render import allure_link, matrix_html, matrix_json, matrix_markdown
from hil.report.results import Outcome, latest_attempts

_n = 0


def outcome(
    status: str,
    *,
    release: str = "2.113.4",
    dt: str = "raspberrypi4-64",
    modem: str | None = "Huawei E3372",
    area: str = "cellular",
    name: str | None = None,
    start: int = 0,
    message: str = "",
) -> Outcome:
    global _n
    _n += 1
    labels = {"board": ["pi4-a"], "device_type": [dt], "os_release": [release], "suite": [area]}
    if modem:
        labels |= {"modem": [modem], "vid_pid": ["12d1:1506"]}
    return Outcome(
        uuid=f"uuid-{_n}",
        name=name or f"test_{_n}[pi4-a]",
        full_name=f"suites.x#{name or _n}",
        status=status,
        message=message,
        start=start,
        stop=start + 1,
        labels=labels,
        parameters={"board": "pi4-a", "os_release": release},
    )


def verdict(*statuses: str) -> str:
    m = modem_matrix([outcome(s) for s in statuses])
    return m.cell("Huawei E3372", "2.113.4", "raspberrypi4-64").verdict


def test_verdict_rule() -> None:
    assert verdict("passed") == QUALIFIED
    assert verdict("passed", "passed", "skipped") == QUALIFIED
    assert verdict("passed", "failed") == FAILED
    assert verdict("passed", "broken", "skipped") == FAILED
    assert verdict("failed") == FAILED
    # skips are shown, never counted as passes
    assert verdict("skipped", "skipped") == NOT_TESTED
    assert verdict() == NOT_TESTED


def test_cells_per_modem_release_and_device_type() -> None:
    outcomes = [
        outcome("passed", release="2.113.4"),
        outcome("failed", release="2.108.27", message="AssertionError: modem not found"),
        outcome("passed", release="2.108.27", dt="raspberrypi3", modem="Quectel EC25"),
        outcome("skipped", release="2.113.4", dt="raspberrypi3", modem="Quectel EC25"),
        outcome("passed", release="2.113.4", modem=None, area="wifi"),
    ]
    m = modem_matrix(outcomes)
    assert m.releases == ["2.108.27", "2.113.4"]
    assert m.rows == ["Huawei E3372", "Quectel EC25"]
    assert m.cell("Huawei E3372", "2.113.4", "raspberrypi4-64").verdict == QUALIFIED
    bad = m.cell("Huawei E3372", "2.108.27", "raspberrypi4-64")
    assert (bad.verdict, bad.failed, bad.passed) == (FAILED, 1, 0)
    assert bad.failures[0].category == "Modem not found"
    ec25 = m.cell("Quectel EC25", "2.113.4", "raspberrypi3")
    assert (ec25.verdict, ec25.skipped) == (NOT_TESTED, 1)
    # a modem never run on a device type is no row of that device type
    assert m.rows_of("raspberrypi3") == ["Quectel EC25"]
    a = area_matrix(outcomes)
    assert a.cell("wifi", "2.113.4", "raspberrypi4-64").verdict == QUALIFIED
    assert a.cell("proxy", "2.113.4", "raspberrypi4-64").verdict == NOT_TESTED
    for headline in ("wifi", "ethernet", "hotspot", "cellular", "requirements", "proxy"):
        assert headline in a.rows


def test_a_rerun_replaces_the_earlier_attempt_of_the_same_release_only() -> None:
    first = outcome("failed", name="test_x[pi4-a]", start=10)
    rerun = outcome("passed", name="test_x[pi4-a]", start=20)
    rerun.full_name = first.full_name
    other_release = outcome("failed", name="test_x[pi4-a]", start=5, release="2.114.0")
    other_release.full_name = first.full_name
    kept = latest_attempts([rerun, first, other_release])
    assert sorted(o.status for o in kept) == ["failed", "passed"]
    m = modem_matrix(kept)
    assert m.cell("Huawei E3372", "2.113.4", "raspberrypi4-64").verdict == QUALIFIED
    assert m.cell("Huawei E3372", "2.114.0", "raspberrypi4-64").verdict == FAILED


def test_renderings_agree() -> None:
    outcomes = [
        outcome("passed"),
        outcome("broken", release="2.108.27", message="hil.console.session.BoardRebooted: x"),
    ]
    m, a = modem_matrix(outcomes), area_matrix(outcomes)
    meta = {"lab": "sim-lab", "releases": m.releases, "boards": ["pi4-a"]}
    doc = json.loads(matrix_json(m, a, meta))
    cells = {(c["modem"], c["os_release"]): c for c in doc["modems"]["cells"]}
    assert cells[("Huawei E3372", "2.113.4")]["verdict"] == "qualified"
    broken = cells[("Huawei E3372", "2.108.27")]
    assert (broken["verdict"], broken["broken"]) == ("failed", 1)
    assert broken["failures"][0]["category"] == "Board rebooted"
    md = matrix_markdown(m, a, meta)
    assert "| Huawei E3372 | ❌ failed (0/0/1/0) | ✅ qualified (1/0/0/0) |" in md
    link = allure_link(broken["failures"][0]["uuid"])
    assert link in md
    html = matrix_html(m, a, meta, {"total": 2}, index=False)
    assert f'href="{link}"' in html and 'data-verdict="qualified"' in html
    assert "<script" not in html  # static: opens from file:// without anything to run


def test_categories() -> None:
    assert categorize("hil.console.session.CommandTimeout: pi4-a: `x` timed out after 3s") == (
        "Console lost or timed out"
    )
    assert categorize("AssertionError: modem stuck in storage mode (12d1:1f01)") == (
        "Modem stuck in storage mode"
    )
    assert categorize("AssertionError: no modem found at port 1-1.3") == "Modem not found"
    assert categorize("AssertionError: SIM missing") == "SIM"
    assert categorize("AssertionError: bearer not connected with APN internet") == "APN / bearer"
    assert categorize("AssertionError: Secrets were required, but not provided") == (
        "WiFi authentication"
    )
    assert categorize("AssertionError: no DHCP lease on wlan0") == "DHCP"
    assert categorize("AssertionError: Could not resolve host: api.balena-cloud.com") == "DNS"
    assert categorize("AssertionError: chronyc: time not synchronised") == "NTP"
    assert categorize("AssertionError: redsocks proxy unreachable") == "Proxy"
    assert categorize("hil.console.session.BoardRebooted: board rebooted during `ip a`") == (
        "Board rebooted"
    )
    assert categorize("AssertionError: assert 1 == 2") is None
