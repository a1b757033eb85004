"""The qualification matrix: is modem X qualified on OS release Y, on device type Z?

One cell per modem × OS release × device type (and, for every test, per area ×
OS release × device type), with the counts of its results and a verdict:
`qualified` when at least one test ran and every test that ran passed,
`failed` when any failed or broke, `not tested` when none ran. Skipped tests
are counted and shown, never taken as passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.report.categories import categorize
from hil.report.environment import release_key
from hil.report.results import Outcome
from hil.suites import SUITE_NAMES

QUALIFIED = "qualified"
FAILED = "failed"
NOT_TESTED = "not tested"

#: areas the per-area matrix always shows, tested or not
HEADLINE_AREAS = ["wifi", "ethernet", "hotspot", "cellular", "requirements", "proxy"]


@dataclass
class Failure:
    """A failed or broken test of a cell, with where to read about it."""

    name: str
    status: str
    board: str
    message: str
    category: str | None
    uuid: str

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "board": self.board,
            "message": self.message,
            "category": self.category,
            "uuid": self.uuid,
        }


@dataclass
class Cell:
    passed: int = 0
    failed: int = 0
    broken: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    boards: set[str] = field(default_factory=set)
    vid_pids: set[str] = field(default_factory=set)

    def add(self, o: Outcome) -> None:
        setattr(self, o.status, getattr(self, o.status) + 1)
        self.boards.add(o.board)
        self.vid_pids.update(v for v in o.labels.get("vid_pid", []) if v != "unknown")
        if o.status in ("failed", "broken"):
            first_line = o.message.splitlines()[0] if o.message else ""
            self.failures.append(
                Failure(o.name, o.status, o.board, first_line[:300], categorize(o.message), o.uuid)
            )

    @property
    def ran(self) -> int:
        return self.passed + self.failed + self.broken

    @property
    def verdict(self) -> str:
        if self.failed or self.broken:
            return FAILED
        if self.passed:
            return QUALIFIED
        return NOT_TESTED

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "failed": self.failed,
            "broken": self.broken,
            "skipped": self.skipped,
            "boards": sorted(self.boards),
            "vid_pids": sorted(self.vid_pids),
            "failures": [f.to_json() for f in self.failures],
        }


@dataclass
class Matrix:
    """Rows × OS releases, one table per device type; rows are modems or areas."""

    row_name: str  # "modem" or "area"
    releases: list[str]
    device_types: list[str]
    rows: list[str]
    cells: dict[tuple[str, str, str], Cell]  # (row, release, device type) → cell

    def cell(self, row: str, release: str, device_type: str) -> Cell:
        return self.cells.get((row, release, device_type)) or Cell()

    def rows_of(self, device_type: str) -> list[str]:
        """The rows with any result on this device type (every row for the area matrix)."""
        if self.row_name == "area":
            return self.rows
        return [
            r
            for r in self.rows
            if any((r, rel, device_type) in self.cells for rel in self.releases)
        ]

    def to_json(self) -> dict:
        return {
            "rows": self.row_name,
            "releases": self.releases,
            "device_types": self.device_types,
            "cells": [
                {self.row_name: row, "os_release": rel, "device_type": dt, **cell.to_json()}
                for (row, rel, dt), cell in sorted(
                    self.cells.items(),
                    key=lambda kv: (kv[0][0], release_key(kv[0][1]), kv[0][2]),
                )
            ],
        }


def _axes(outcomes: list[Outcome]) -> tuple[list[str], list[str]]:
    releases = sorted({o.os_release for o in outcomes}, key=release_key)
    device_types = sorted({o.device_type for o in outcomes})
    return releases, device_types


def modem_matrix(outcomes: list[Outcome]) -> Matrix:
    """Modem × OS release × device type, from the results that carry a `modem` label."""
    releases, device_types = _axes(outcomes)
    cells: dict[tuple[str, str, str], Cell] = {}
    for o in outcomes:
        for modem in o.modems:
            cells.setdefault((modem, o.os_release, o.device_type), Cell()).add(o)
    rows = sorted({k[0] for k in cells})
    return Matrix("modem", releases, device_types, rows, cells)


def area_matrix(outcomes: list[Outcome]) -> Matrix:
    """Area × OS release × device type, over every result."""
    releases, device_types = _axes(outcomes)
    cells: dict[tuple[str, str, str], Cell] = {}
    for o in outcomes:
        cells.setdefault((o.area, o.os_release, o.device_type), Cell()).add(o)
    seen = {k[0] for k in cells}
    known = [a for a in SUITE_NAMES if a in seen or a in HEADLINE_AREAS]
    rows = known + sorted(seen - set(known))
    return Matrix("area", releases, device_types, rows, cells)


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    counts = {"total": len(outcomes), "passed": 0, "failed": 0, "broken": 0, "skipped": 0}
    for o in outcomes:
        counts[o.status] += 1
    return counts
