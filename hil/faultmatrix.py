"""The fault matrix: run the suites under each lab fault and check the verdicts.

Board faults must turn exactly the tests that declare them
(`@pytest.mark.faults(...)`) red — failed, or broken with a clear reason — and
leave every other test as it was without the fault. Console faults must leave
every verdict as it was, or make a test broken with a clear reason; never a
wrong verdict. The harness's own tests (`tests/test_fault_matrix.py`) run this
over the sim lab; `hil sim faults` shows the declarations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hil.lab.faults import FAULTS
from hil.suites import suite_files

RED = {"failed", "broken"}


@dataclass
class Outcome:
    outcome: str
    reason: str
    #: the lab faults that were on while the test ran (None: not recorded)
    faults: list[str] | None = None


def run_suites(
    lab: str,
    faults: list[str],
    files: list[Path] | None = None,
    timeout: float = 900,
    extra: list[str] | None = None,
    transcripts: Path | None = None,
) -> dict[str, Outcome]:
    """Run the suites in a fresh pytest process with `faults` on; outcome per test id.
    The transcripts go to `transcripts` when given (else they go with the run)."""
    files = files if files is not None else suite_files()
    with tempfile.TemporaryDirectory(prefix="hil-matrix-") as tmp:
        out = Path(tmp) / "outcomes.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--lab={lab}",
            f"--outcomes={out}",
            f"--transcripts={transcripts or Path(tmp) / 'transcripts'}",
            *[f"--lab-fault={f}" for f in faults],
            *(extra or []),
            *map(str, files),
        ]
        env = {**os.environ, "HIL_SIM_DIR": str(Path(tmp) / "sim")}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if not out.exists():
            raise RuntimeError(
                f"suites did not run (exit {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        data = json.loads(out.read_text())
    return {k: Outcome(v["outcome"], v["reason"], v.get("faults")) for k, v in data.items()}


def declared(nodeid_to_faults: dict[str, list[str]], fault: str) -> set[str]:
    return {n for n, fs in nodeid_to_faults.items() if fault in fs}


def check_board_fault(
    fault: str,
    baseline: dict[str, Outcome],
    faulted: dict[str, Outcome],
    covers: dict[str, list[str]],
) -> list[str]:
    """Problems with a board fault's verdicts (empty when all is as it must be)."""
    problems = []
    for nodeid, base in sorted(baseline.items()):
        got = faulted.get(nodeid)
        if got is None:
            problems.append(f"{nodeid}: did not run under {fault}")
            continue
        function = nodeid.split("[")[0]
        # a fault this board's lab cannot produce (a storage-mode fault on a modem
        # without a storage mode) was never on: the test must stay as it was
        applies = got.faults is None or fault in got.faults
        if fault in covers.get(function, []) and applies:
            if base.outcome == "skipped":
                continue  # the board lacks what the test needs: nothing to turn red
            if got.outcome not in RED:
                problems.append(f"{nodeid}: declares {fault} but {got.outcome} under it")
            elif not got.reason.strip():
                problems.append(f"{nodeid}: red under {fault} without a reason")
        elif got.outcome != base.outcome:
            problems.append(
                f"{nodeid}: {base.outcome} without {fault}, {got.outcome} with it "
                f"(does not declare it): {got.reason}"
            )
    return problems


def check_console_fault(
    fault: str, baseline: dict[str, Outcome], faulted: dict[str, Outcome]
) -> list[str]:
    """A console fault may break a test with a clear reason, never change its verdict."""
    problems = []
    for nodeid, base in sorted(baseline.items()):
        got = faulted.get(nodeid)
        if got is None:
            problems.append(f"{nodeid}: did not run under {fault}")
        elif got.outcome != base.outcome and not (got.outcome == "broken" and got.reason):
            problems.append(
                f"{nodeid}: {base.outcome} without {fault}, {got.outcome} with it: {got.reason}"
            )
    return problems


def board_faults() -> list[str]:
    return [f.name for f in FAULTS.values() if f.kind == "board"]


def console_faults() -> list[str]:
    return [f.name for f in FAULTS.values() if f.kind == "console"]
