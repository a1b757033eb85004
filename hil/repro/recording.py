"""A recording: the structured console transcripts of a run, as a board's answers.

Every run leaves, per board, one structured transcript per test
(`<transcripts>/<board>/<test>.jsonl`: each command with its output, exit
status and timings) and the board's lab config without its secrets
(`board.yaml`). A recording is one such `.jsonl`, a board's directory of them,
or a run's directory of boards.

Answers are looked up by command text, in recorded order: the n-th time a
command is sent, it gets the n-th recorded answer to it (the board's state
moved on between them); sent more often than recorded — a poll that waits
longer — it gets the last one again. The text matches exactly, or up to what
the recording could not keep: a secret masked as `******` there matches any
text, and a random token of hex digits (a staging file's name) any token of
the same length.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hil.errors import ConfigError
from hil.lab.models import BoardConfig
from hil.lab.secrets import MASK

BOARD_YAML = "board.yaml"
TESTS_LIST = "tests.list"
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{8,}(?![0-9A-Za-z])")
_MASKED = re.escape(MASK)


@dataclass(frozen=True)
class Answer:
    """One recorded command and what the board answered."""

    command: str
    output: bytes
    exit_code: int | None
    error: str | None
    start: float
    source: str

    @property
    def test(self) -> str:
        """The transcript it came from, by name (`test_x_pi4-a_`; `.facts` stripped)."""
        return self.source.split(".jsonl:")[0].removesuffix(".facts")

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None and "timed out" in (self.error or "")

    @property
    def rebooted(self) -> bool:
        text = (self.error or "").lower()
        return self.exit_code is None and ("reboot" in text or "restarting" in text)

    @property
    def masked(self) -> bool:
        return MASK.encode() in self.output


def _start(entry: dict) -> float:
    start = entry.get("start", 0.0)
    if isinstance(start, int | float):
        return float(start)
    try:
        return datetime.fromisoformat(str(start)).timestamp()
    except ValueError:
        return 0.0


def _answers(path: Path) -> list[Answer]:
    found = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the transcript: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: not a structured transcript line: {e.msg}") from None
        if not isinstance(entry, dict) or entry.get("kind", "command") != "command":
            continue
        if "command" not in entry:
            continue
        if entry.get("output_base64"):
            output = base64.b64decode(entry["output_base64"])
        else:
            output = str(entry.get("output") or "").encode()
        found.append(
            Answer(
                command=str(entry["command"]),
                output=output,
                exit_code=entry.get("exit_code"),
                error=entry.get("error"),
                start=_start(entry),
                source=f"{path.name}:{n}",
            )
        )
    return found


class Recording:
    """The answers of one board, looked up by command text."""

    def __init__(self, name: str, answers: list[Answer], board_yaml: Path | None = None) -> None:
        self.name = name
        self.answers = answers
        self.board_yaml = board_yaml
        self._queues: dict[str, list[Answer]] = defaultdict(list)
        for a in answers:
            self._queues[a.command].append(a)
        self._served: dict[str, int] = defaultdict(int)
        # each test's own answers (its transcript's), when the harness says which test runs
        self._scoped: dict[str, dict[str, list[Answer]]] = defaultdict(lambda: defaultdict(list))
        for a in answers:
            self._scoped[a.test][a.command].append(a)
        self._scoped_served: dict[tuple[str, str], int] = defaultdict(int)
        self.scope: str | None = None
        # longest first: a command that contains another is matched whole
        self._texts = sorted(self._queues, key=len, reverse=True)
        self._patterns = [(t, _pattern(t)) for t in self._texts if _is_fuzzy(t)]

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """A `.jsonl` transcript, or a directory of them (a board's, in time order)."""
        p = Path(path)
        if p.is_file():
            board_yaml = p.parent / BOARD_YAML
            return cls(p.stem, _answers(p), board_yaml if board_yaml.is_file() else None)
        if not p.is_dir():
            raise ConfigError(f"{path}: no such transcript (a .jsonl file or a directory of them)")
        files = sorted(p.glob("*.jsonl"))
        if not files:
            raise ConfigError(f"{path}: no structured transcripts (*.jsonl) in it")
        answers = sorted((a for f in files for a in _answers(f)), key=lambda a: a.start)
        board_yaml = p / BOARD_YAML
        return cls(p.name, answers, board_yaml if board_yaml.is_file() else None)

    def __len__(self) -> int:
        return len(self.answers)

    # -- lookup --------------------------------------------------------------
    def find(self, line: str) -> tuple[int, int, str] | None:
        """Where a recorded command stands in a typed line, as a whole command:
        (start, end, recorded text). Exact texts first, then masked/tokened ones."""
        for text in self._texts:
            at = line.find(text)
            while at >= 0:
                if _whole(line, at, at + len(text)):
                    return at, at + len(text), text
                at = line.find(text, at + 1)
        for text, pattern in self._patterns:
            for m in pattern.finditer(line):
                if _whole(line, m.start(), m.end()):
                    return m.start(), m.end(), text
        return None

    def set_scope(self, test: str | None) -> None:
        """The test now running (its transcript's name): its own answers come first."""
        self.scope = test

    def answer(self, text: str) -> Answer:
        """The next recorded answer to `text` (the last one again when all were given):
        from the running test's own transcript when it has one, else from the run's."""
        scoped = self._scoped.get(self.scope or "", {}).get(text) if self.scope else None
        if scoped:
            key = (self.scope or "", text)
            i = self._scoped_served[key]
            self._scoped_served[key] = i + 1
            self._served[text] += 1
            return scoped[min(i, len(scoped) - 1)]
        queue = self._queues[text]
        i = self._served[text]
        self._served[text] = i + 1
        return queue[min(i, len(queue) - 1)]


def _is_fuzzy(text: str) -> bool:
    return MASK in text or bool(_HEX_TOKEN.search(text))


def _pattern(text: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(f"({_MASKED})", text):
        if piece == MASK:
            parts.append(r"[^\n]+?")
            continue
        pos = 0
        for m in _HEX_TOKEN.finditer(piece):
            parts.append(re.escape(piece[pos : m.start()]))
            parts.append(f"[0-9a-f]{{{len(m.group())}}}")
            pos = m.end()
        parts.append(re.escape(piece[pos:]))
    # a wildcard stretches to the end of the command, not to its first character
    return re.compile("".join(parts) + r"(?=[ \t]*(?:[;\n})&|]|$))")


def _whole(line: str, start: int, end: int) -> bool:
    """The match is a whole command of the line, not part of a longer one."""
    before = line[:start].rstrip(" \t")
    after = line[end:].lstrip(" \t")
    return (not before or before[-1] in ";{(\n&|") and (not after or after[0] in ";\n})&|")


def recorded_boards(path: str | Path) -> dict[str, Path]:
    """Board name → its recording, for a run's directory (one subdirectory per board),
    a board's directory, or one transcript."""
    p = Path(path)
    if p.is_dir():
        boards = {d.name: d for d in sorted(p.iterdir()) if d.is_dir() and any(d.glob("*.jsonl"))}
        if boards:
            return boards
        return {p.name: p}
    return {p.parent.name: p}


def write_board_yaml(directory: Path, board: BoardConfig) -> None:
    """Record the board's lab config beside its transcripts, secrets masked."""
    import yaml

    from hil.lab.secrets import is_secret_key

    def mask(node: object, key: str = "") -> object:
        if isinstance(node, dict):
            return {k: mask(v, str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [mask(v, key) for v in node]
        return MASK if isinstance(node, str) and is_secret_key(key) else node

    data = board.model_dump(
        mode="json", exclude_none=True, exclude={"sim", "qemu", "sd_mux", "flash", "power"}
    )
    data.pop("lab_side", None)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / ".board.yaml.tmp"
    tmp.write_text(
        "# the lab config of this board when it was recorded, secrets masked "
        "(hil replay reads it)\n" + yaml.safe_dump(mask(data), sort_keys=False)
    )
    tmp.replace(directory / BOARD_YAML)


def recorded_tests(path: str | Path) -> list[str]:
    """The tests a recording holds, in the order they ran (`path::name` each)."""
    p = Path(path)
    lists = [d / TESTS_LIST for d in recorded_boards(p).values() if d.is_dir()]
    seen: dict[str, None] = {}
    for f in lists:
        if f.is_file():
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    seen.setdefault(line.strip(), None)
    return list(seen)
