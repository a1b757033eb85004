"""Facts read from a board for the report: its OS release, and what explains a failure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hil.board import Board
from hil.console import ShellSession
from hil.errors import HilError
from hil.lab.secrets import REDACTOR
from hil.probes.os_release import parse_os_release

#: (what, command): the board's view of its networking after a failed test
FAILURE_FACTS: list[tuple[str, str]] = [
    (
        "NetworkManager devices",
        "nmcli --colors no -t -f DEVICE,TYPE,STATE,CONNECTION device status",
    ),
    ("NetworkManager connections", "nmcli --colors no -t -f NAME,TYPE,DEVICE connection show"),
    ("ModemManager modems", "mmcli -L"),
    ("ModemManager modem", "mmcli -m any"),
    ("addresses", "ip addr"),
    ("routes", "ip route"),
    ("kernel log (tail)", "dmesg | tail -n 40"),
]
FACT_TIMEOUT = 10.0


def read_os_release(board: Board, transcript: Path | None, timeout: float = 60.0) -> str:
    """`VERSION` of the board's /etc/os-release, read over its console."""
    with board.open_shell(transcript=transcript, timeout=timeout) as shell:
        r = shell.run("cat /etc/os-release", timeout=FACT_TIMEOUT)
    if r.exit_code != 0:
        raise HilError(f"{board.name}: cat /etc/os-release: exit {r.exit_code}: {r.output.strip()}")
    fields = parse_os_release(r.output)
    version = fields.get("VERSION") or fields.get("VERSION_ID")
    if not version:
        raise HilError(f"{board.name}: /etc/os-release has no VERSION")
    return version


@dataclass
class Fact:
    what: str
    command: str
    output: str
    exit_code: int | None
    error: str | None = None

    def render(self) -> str:
        status = self.error or f"exit {self.exit_code}"
        return f"## {self.what}\n$ {self.command}   ({status})\n{self.output.rstrip()}\n"


def collect_failure_facts(shell: ShellSession) -> list[Fact]:
    """Run `FAILURE_FACTS` on a shell; stop at the first console failure (it would repeat)."""
    facts: list[Fact] = []
    for what, command in FAILURE_FACTS:
        try:
            r = shell.run(command, timeout=FACT_TIMEOUT)
        except HilError as e:
            facts.append(Fact(what, command, getattr(e, "output", ""), None, str(e)))
            break
        facts.append(Fact(what, command, r.output, r.exit_code))
    return facts


def render_facts(board: str, facts: list[Fact], error: str | None = None) -> str:
    head = f"# Board facts of {board} after the failure\n\n"
    body = "\n".join(f.render() for f in facts)
    if error:
        body += f"\n(no facts: {error})\n"
    return REDACTOR.redact(head + body)
