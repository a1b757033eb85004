"""The HTML report as a person sees it: Debian's chromium, headless, from file://.

Screenshots are kept in out/screenshots/ of the checkout for the reader.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.report_helpers import CELLULAR_SUITE, WIFI_SUITE, run_hil, write_suites

CHROMIUM = shutil.which("chromium")
SHOTS = REPO / "out" / "screenshots"


def chromium(url: str, tmp: Path, *, screenshot: Path | None = None) -> str:
    """The DOM of `url` after its scripts ran (and a screenshot of it)."""
    profile = tmp / f"profile-{hashlib.md5(url.encode()).hexdigest()[:8]}"
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--virtual-time-budget=8000",
    ]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*flags, f"--screenshot={screenshot}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
        assert screenshot.stat().st_size > 10_000  # a page, not a blank
    r = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    )
    return r.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by scripts/setup.sh")
def test_report_renders_in_chromium(hil_cmd, tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", wifi=WIFI_SUITE, cellular=CELLULAR_SUITE)
    r = run_hil(hil_cmd, tmp_path, "run", suites=suites, env={"HIL_TEST_FAIL_ON": "pi3-b"})
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr
    report = tmp_path / "out/report"

    index = chromium(
        (report / "index.html").as_uri(), tmp_path, screenshot=SHOTS / "report-index.png"
    )
    assert "Qualification matrix: modem × OS release × device type" in index
    assert "Huawei E3372" in index and "Quectel EC25" in index
    assert 'data-verdict="qualified"' in index and 'data-verdict="failed"' in index
    assert "test_registration[pi3-b]" in index  # the failing test, linked
    assert 'href="allure/index.html"' in index

    # the Allure 3 app renders its results from file:// (single file, no server)
    allure = chromium(
        (report / "allure/index.html").as_uri(), tmp_path, screenshot=SHOTS / "report-allure.png"
    )
    for name in (
        "test_os_release_readable[pi4-a]",
        "test_dns_resolves[pi3-b]",
        "test_registration[pi3-b]",
    ):
        assert name in allure, name
    assert "Qualification matrix" in allure  # the way back to the matrix

    # a failing test's link from the matrix opens that test in the report
    doc = json.loads((report / "matrix.json").read_text())
    failure = next(f for c in doc["modems"]["cells"] for f in c["failures"])
    test_id = hashlib.md5(failure["uuid"].encode()).hexdigest()
    page = chromium(
        f"{(report / 'allure/index.html').as_uri()}#/{test_id}",
        tmp_path,
        screenshot=SHOTS / "report-failed-test.png",
    )
    assert "modem not registered on the network" in page
    assert "board facts after the failure" in page
    assert "Registration" in page  # its category
