"""Matching USB devices by udev properties, as labgrid's `match:` does — and saying why not.

A `Match` is a set of `key: pattern` rules (shell-style globs). A plain key is
checked on the record itself; a key prefixed with `@` on any of its ancestors
(`@ID_PATH` finds a tty by the port its modem sits in). Keys are udev
properties, `ATTR{name}` sysfs attributes (lab host only), or the pseudo-keys
`sys_name`, `subsystem`, `devtype`, `driver`, `devnode`, `devpath`.

Every record of the tree is a candidate; a matching record stands for the USB
device it belongs to (itself, or its nearest `usb_device` ancestor). A lab's
`usb_path` is `Match.usb_path(...)`: the `usb_device` whose own ID_PATH is that
port — whatever its VID:PID, which changes when usb_modeswitch switches it.

When nothing matches, `MatchReport.explain()` names, for the closest
candidates, WHICH key failed and what was there instead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hil.errors import HarnessError
from hil.probes.udevadm import UdevRecord
from hil.usb.model import UdevTree, UsbDevice, build_usb_device

#: how many near misses an explanation lists
EXPLAIN_LIMIT = 5


class NoMatch(HarnessError):
    """No USB device matches; the message explains which key failed where."""


class AmbiguousMatch(HarnessError):
    """Several USB devices match where one was expected."""


@dataclass(frozen=True)
class Rule:
    key: str
    pattern: str

    @property
    def on_ancestor(self) -> bool:
        return self.key.startswith("@")

    @property
    def name(self) -> str:
        return self.key[1:] if self.on_ancestor else self.key

    def accepts(self, value: str | None) -> bool:
        return value is not None and fnmatch.fnmatchcase(value, self.pattern)


@dataclass(frozen=True)
class Match:
    """A udev match: rules that must all hold (`{"@ID_PATH": "...", "SUBSYSTEM": "tty"}`)."""

    rules: tuple[Rule, ...]
    label: str = ""

    @classmethod
    def of(cls, spec: Match | Mapping[str, str] | str) -> Match:
        """A Match from a Match, a dict of rules, or a `usb_path` string."""
        if isinstance(spec, Match):
            return spec
        if isinstance(spec, str):
            return cls.usb_path(spec)
        if not spec:
            raise ValueError("a match needs at least one key")
        return cls(tuple(Rule(str(k), str(v)) for k, v in spec.items()))

    @classmethod
    def usb_path(cls, usb_path: str) -> Match:
        """The USB device at a physical port (the lab config's `usb_path`)."""
        return cls(
            (
                Rule("subsystem", "usb"),
                Rule("devtype", "usb_device"),
                Rule("ID_PATH", usb_path),
            ),
            label=f"usb_path {usb_path}",
        )

    def __str__(self) -> str:
        if self.label:
            return self.label
        return "{" + ", ".join(f"{r.key}={r.pattern!r}" for r in self.rules) + "}"


@dataclass
class Candidate:
    """One record checked against a match: the rules it failed, and why."""

    record: UdevRecord
    failures: list[str] = field(default_factory=list)
    passed: int = 0
    closeness: int = 0  # longest common prefix with a failed value: ranks near misses


@dataclass
class MatchReport:
    """The outcome of matching a tree: what matched, and the near misses."""

    match: Match
    devices: list[UsbDevice]
    candidates: list[Candidate]
    source: str = "udev"

    @property
    def found(self) -> bool:
        return bool(self.devices)

    def one(self) -> UsbDevice:
        if not self.devices:
            raise NoMatch(self.explain())
        if len(self.devices) > 1:
            names = ", ".join(d.describe() for d in self.devices)
            raise AmbiguousMatch(f"{self.match} matches {len(self.devices)} USB devices: {names}")
        return self.devices[0]

    def explain(self) -> str:
        """Why nothing matched: one line per near miss, naming the failed key."""
        if self.devices:
            return f"{self.match}: matches " + ", ".join(d.describe() for d in self.devices)
        near = sorted(self.candidates, key=lambda c: (-c.passed, -c.closeness, c.record.devpath))
        lines = [
            f"no USB device in {self.source} matches {self.match} "
            f"({len(self.candidates)} candidates checked)"
        ]
        for c in near[:EXPLAIN_LIMIT]:
            lines.append(f"  {c.record.sys_name} ({_what(c.record)}): " + "; ".join(c.failures))
        if len(near) > EXPLAIN_LIMIT:
            lines.append(f"  … {len(near) - EXPLAIN_LIMIT} more candidates matched less")
        return "\n".join(lines)


def _what(record: UdevRecord) -> str:
    kind = record.devtype or record.subsystem or "device"
    p = record.properties
    ids = p.get("PRODUCT", "")
    return f"{kind} {ids}".strip() if ids and record.devtype == "usb_device" else kind


def check(tree: UdevTree, record: UdevRecord, match: Match) -> Candidate:
    """Which rules `record` passes, and for each failure what was seen instead."""
    cand = Candidate(record)
    ancestors: list[UdevRecord] | None = None
    for rule in match.rules:
        if not rule.on_ancestor:
            value = _value(record, rule.name)
            if rule.accepts(value):
                cand.passed += 1
                continue
            cand.failures.append(
                f"{rule.key} is {value!r}, expected {rule.pattern!r}"
                if value is not None
                else f"{rule.key} not set (expected {rule.pattern!r})"
            )
            cand.closeness = max(cand.closeness, _common(value, rule.pattern))
            continue
        if ancestors is None:
            ancestors = list(tree.ancestors(record))
        values = [_value(a, rule.name) for a in ancestors]
        if any(rule.accepts(v) for v in values):
            cand.passed += 1
            continue
        seen = sorted({v for v in values if v is not None})
        cand.failures.append(
            f"{rule.key}: no ancestor has {rule.name} {rule.pattern!r}"
            + (
                f" (ancestors have {', '.join(map(repr, seen))})"
                if seen
                else f" (none sets {rule.name})"
            )
        )
        cand.closeness = max([cand.closeness, *(_common(v, rule.pattern) for v in seen)])
    return cand


#: the pseudo-keys of `UdevRecord.get`, read without building its table per call
#: (a match checks every record of the tree: thousands on a large bus)
_PSEUDO: dict[str, Callable[[UdevRecord], str | None]] = {
    "sys_name": lambda r: r.sys_name,
    "subsystem": lambda r: r.subsystem,
    "devtype": lambda r: r.devtype,
    "driver": lambda r: r.driver,
    "devnode": lambda r: r.devnode,
    "devpath": lambda r: r.devpath,
}


def _value(record: UdevRecord, key: str) -> str | None:
    pseudo = _PSEUDO.get(key)
    return pseudo(record) if pseudo is not None else record.get(key)


def _common(value: str | None, pattern: str) -> int:
    """Characters `value` shares with the start of `pattern` (ranks near misses)."""
    n = 0
    for a, b in zip(value or "", pattern, strict=False):
        if a != b:
            break
        n += 1
    return n


def usb_device_of(tree: UdevTree, record: UdevRecord) -> UdevRecord | None:
    """The `usb_device` a record belongs to: itself, or its nearest such ancestor."""
    if record.subsystem == "usb" and record.devtype == "usb_device":
        return record
    for a in tree.ancestors(record):
        if a.subsystem == "usb" and a.devtype == "usb_device":
            return a
    return None


def match_records(tree: UdevTree, match: Match) -> tuple[list[UdevRecord], list[Candidate]]:
    """Records that match, and the checked candidates that did not."""
    hits: list[UdevRecord] = []
    misses: list[Candidate] = []
    for record in tree:
        cand = check(tree, record, match)
        if cand.failures:
            misses.append(cand)
        else:
            hits.append(record)
    return hits, misses


def matches(tree: UdevTree, record: UdevRecord, match: Match) -> bool:
    """Whether `record` passes every rule: `check()` without its explanations."""
    return _passes(tree, record, _in_checking_order(match))


def _in_checking_order(match: Match) -> list[Rule]:
    """Own keys before `@` keys (which walk the ancestors)."""
    return sorted(match.rules, key=lambda r: r.on_ancestor)


def _passes(tree: UdevTree, record: UdevRecord, rules: list[Rule]) -> bool:
    """The first failed rule ends the check."""
    ancestors: list[UdevRecord] | None = None
    for rule in rules:
        if not rule.on_ancestor:
            if not rule.accepts(_value(record, rule.name)):
                return False
            continue
        if ancestors is None:
            ancestors = list(tree.ancestors(record))
        if not any(rule.accepts(_value(a, rule.name)) for a in ancestors):
            return False
    return True


class LiveMatch:
    """A match kept up to date while its tree changes: after `update` only the records that
    changed, and those below them (whose `@` keys read them), are checked again."""

    def __init__(self, tree: UdevTree, match: Match, source: str = "udev") -> None:
        self.tree = tree
        self.match = match
        self.source = source
        self._rules = _in_checking_order(match)
        self._below = any(r.on_ancestor for r in match.rules)
        self.hits = {p for p, r in tree.records.items() if _passes(tree, r, self._rules)}

    def update(self, changed: Iterable[str], removed: Iterable[str]) -> None:
        """Check again after `tree.add` of `changed` and `tree.discard` of `removed`."""
        self.hits.difference_update(removed)
        for path in changed:
            record = self.tree.records.get(path)
            if record is None:
                self.hits.discard(path)
                continue
            for r in [record, *(self.tree.descendants(record) if self._below else ())]:
                if _passes(self.tree, r, self._rules):
                    self.hits.add(r.devpath)
                else:
                    self.hits.discard(r.devpath)

    def report(self) -> MatchReport:
        """The matched USB devices now, without near misses (`match_usb` explains)."""
        return _report(
            self.tree,
            self.match,
            [self.tree.records[p] for p in sorted(self.hits)],
            [],
            self.source,
        )


def match_usb(
    tree: UdevTree, match: Match, source: str = "udev", explain: bool = True
) -> MatchReport:
    """The USB devices the match selects (each once), with the near misses — or, with
    `explain=False`, without them (no candidate is kept: what a wait checks on every
    burst of events, on a bus of thousands of records)."""
    if explain:
        hits, misses = match_records(tree, match)
    else:
        rules = _in_checking_order(match)
        hits, misses = [r for r in tree if _passes(tree, r, rules)], []
    return _report(tree, match, hits, misses, source)


def _report(
    tree: UdevTree,
    match: Match,
    hits: list[UdevRecord],
    misses: list[Candidate],
    source: str,
) -> MatchReport:
    owners: dict[str, UdevRecord] = {}
    for record in hits:
        owner = usb_device_of(tree, record)
        if owner is not None:
            owners.setdefault(owner.devpath, owner)
    devices = [build_usb_device(tree, r) for r in owners.values()]
    # only candidates that are USB records (or pass something) make useful explanations
    useful = [c for c in misses if c.passed or c.record.subsystem == "usb"]
    return MatchReport(match, devices, useful or misses, source)
