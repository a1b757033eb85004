"""Where the qualification suites live and which faults each test declares."""

from __future__ import annotations

import os
from pathlib import Path

#: the areas of DESIGN.md, one `suites/test_<name>.py` each
SUITE_NAMES = [
    "wifi",
    "ethernet",
    "hotspot",
    "regdomain",
    "cellular",
    "modeswitch",
    "requirements",
    "proxy",
    "connectivity",
    "runtime",
]


def suites_dir() -> Path:
    """`suites/` of the checkout `hil` runs from (the repo is installed editable).

    `HIL_SUITES_DIR` points elsewhere (the harness's own tests run generated suites).
    """
    if os.environ.get("HIL_SUITES_DIR"):
        return Path(os.environ["HIL_SUITES_DIR"])
    return Path(__file__).resolve().parent.parent / "suites"


def suite_files(names: list[str] | None = None) -> list[Path]:
    """The suite files that exist, for `names` (all when None)."""
    chosen = names or SUITE_NAMES
    return [p for n in chosen if (p := suites_dir() / f"test_{n}.py").exists()]


def fault_coverage(lab_path: str) -> dict[str, list[str]]:
    """fault name → node ids of the suite tests that declare it (`@pytest.mark.faults`)."""
    import pytest

    files = suite_files()
    coverage: dict[str, list[str]] = {}
    if not files:
        return coverage

    class _Collector:
        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            for item in items:
                for mark in item.iter_markers("faults"):
                    for name in mark.args:
                        ids = coverage.setdefault(name, [])
                        base = item.nodeid.split("[")[0]
                        if base not in ids:
                            ids.append(base)

    pytest.main(
        ["--collect-only", "-p", "no:terminal", f"--lab={lab_path}", *map(str, files)],
        plugins=[_Collector()],
    )
    return coverage
