"""What a check found: `Issue`s (each naming line and key) gathered in a `Report`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One finding. `line` is 1-based; `key` may be None for a whole section or file."""

    severity: Severity
    message: str
    line: int | None = None
    section: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.section and self.key:
            what = f"[{self.section}] {self.key}: "
        elif self.key:
            what = f"{self.key}: "
        elif self.section:
            what = f"[{self.section}]: "
        else:
            what = ""
        return f"{where}: {what}{self.message}"


@dataclass
class Report:
    """The verdict on one file: valid iff there is no error."""

    path: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def add(self, issue: Issue) -> None:
        (self.errors if issue.severity == "error" else self.warnings).append(issue)

    def error(self, message: str, line: int | None = None, section: str | None = None,
              key: str | None = None) -> None:  # fmt: skip
        self.add(Issue("error", message, line, section, key))

    def warn(self, message: str, line: int | None = None, section: str | None = None,
             key: str | None = None) -> None:  # fmt: skip
        self.add(Issue("warning", message, line, section, key))

    def sort(self) -> None:
        def order(i: Issue) -> tuple[int, str]:
            return (i.line or 0, i.message)

        self.errors.sort(key=order)
        self.warnings.sort(key=order)

    def as_json(self) -> dict[str, object]:
        """The `hil keyfile check --json` object of this file."""
        return {
            "path": self.path,
            "valid": self.valid,
            "errors": [str(i) for i in self.errors],
            "warnings": [str(i) for i in self.warnings],
        }

    def lines(self) -> list[str]:
        """Human output: `PATH:LINE: error: [section] key: message`, errors first."""
        out = []
        for issue in [*self.errors, *self.warnings]:
            loc = f"{self.path}:{issue.line}" if issue.line else self.path
            text = str(issue).split(": ", 1)[1] if ": " in str(issue) else str(issue)
            out.append(f"{loc}: {issue.severity}: {text}")
        return out
