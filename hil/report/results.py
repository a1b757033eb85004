"""Allure results on disk, read back as typed outcomes (for the matrix and the environment)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hil.errors import ConfigError
from hil.report import labels as L

STATUSES = ("passed", "failed", "broken", "skipped")


@dataclass
class Outcome:
    """One allure test result, reduced to what the reports need."""

    uuid: str
    name: str
    full_name: str
    status: str  # passed | failed | broken | skipped (unknown counts as broken)
    message: str
    start: int
    stop: int
    labels: dict[str, list[str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    source: str = ""  # the results directory it came from

    def label(self, name: str, default: str = L.UNKNOWN) -> str:
        values = self.labels.get(name)
        return values[0] if values else default

    @property
    def board(self) -> str:
        return self.label(L.BOARD)

    @property
    def device_type(self) -> str:
        return self.label(L.DEVICE_TYPE)

    @property
    def os_release(self) -> str:
        return self.label(L.OS_RELEASE)

    @property
    def area(self) -> str:
        return self.label(L.SUITE)

    @property
    def modems(self) -> list[str]:
        return self.labels.get(L.MODEM, [])

    @property
    def identity(self) -> tuple:
        """Same test, same parameters, same release: reruns of it are retries."""
        return (self.full_name, tuple(sorted(self.parameters.items())), self.os_release)


def _outcome(data: dict, source: str) -> Outcome:
    labels: dict[str, list[str]] = {}
    for label in data.get("labels", []):
        labels.setdefault(str(label.get("name")), []).append(str(label.get("value", "")))
    status = data.get("status") or "broken"
    if status not in STATUSES:
        status = "broken"
    details = data.get("statusDetails") or {}
    return Outcome(
        uuid=str(data.get("uuid", "")),
        name=str(data.get("name", "")),
        full_name=str(data.get("fullName") or data.get("name", "")),
        status=status,
        message=str(details.get("message") or "").strip(),
        start=int(data.get("start") or 0),
        stop=int(data.get("stop") or 0),
        labels=labels,
        parameters={str(p.get("name")): str(p.get("value")) for p in data.get("parameters", [])},
        source=source,
    )


def read_results(dirs: Iterable[str | Path]) -> list[Outcome]:
    """Every `*-result.json` of these directories (a missing directory is a ConfigError)."""
    outcomes = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise ConfigError(f"{d}: no such allure results directory")
        for f in sorted(d.glob("*-result.json")):
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise ConfigError(f"{f}: not an allure result ({e})") from None
            outcomes.append(_outcome(data, str(d)))
    return outcomes


def latest_attempts(outcomes: list[Outcome]) -> list[Outcome]:
    """One outcome per test × parameters × release: the last attempt (as allure shows it)."""
    latest: dict[tuple, Outcome] = {}
    for o in outcomes:
        kept = latest.get(o.identity)
        if kept is None or (o.stop, o.start) >= (kept.stop, kept.start):
            latest[o.identity] = o
    return sorted(latest.values(), key=lambda o: (o.start, o.full_name, o.name))
