"""The allure labels of a hil result (DESIGN.md "Allure results") and how they are derived."""

from __future__ import annotations

import re
from pathlib import Path

#: labels every result carries
BOARD = "board"
DEVICE_TYPE = "device_type"
OS_RELEASE = "os_release"
#: labels of modem tests
MODEM = "modem"
VID_PID = "vid_pid"
#: allure's own
PARENT_SUITE = "parentSuite"
SUITE = "suite"
SUB_SUITE = "subSuite"
SEVERITY = "severity"

UNKNOWN = "unknown"

SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")

#: the areas whose failures stop a release by themselves: the modem and the
#: links a fleet is reached through
_CRITICAL_AREAS = {"cellular", "modeswitch", "wifi", "ethernet", "connectivity"}

#: areas that are about a modem even when the test does not say so
MODEM_AREAS = {"cellular", "modeswitch"}


def area_of(path: str | Path) -> str:
    """The area of a test file: `suites/test_wifi.py` → `wifi`."""
    stem = Path(path).stem
    return re.sub(r"^test_", "", stem) or stem


def default_severity(area: str) -> str:
    return "critical" if area in _CRITICAL_AREAS else "normal"


def suite_labels(os_release: str, area: str, board: str) -> dict[str, str]:
    """parentSuite / suite / subSuite: the report's tree is release → area → board."""
    return {PARENT_SUITE: os_release, SUITE: area, SUB_SUITE: board}
