"""The `reboot`s the harness typed on a board, read from its structured transcripts
(`<transcripts>/<board>/*.jsonl`, what `hil replay` reads too)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hil.repro.recording import Recording


def typed_reboots(board_dir: Path) -> Counter[str]:
    """Transcript name (`test_x_pi4-a_`, `owed-reboot`) → how many `reboot`s it holds
    (none when the run left no transcripts)."""
    if not any(board_dir.glob("*.jsonl")):
        return Counter()
    return Counter(a.test for a in Recording.load(board_dir).answers if a.command == "reboot")
