"""`hil vrig faults`: each fault of the virtual rig's lab turns its tests red.

For every fault the guest's lab can produce (a hook in `guest/faults.d/`), the
suite tests that declare it (`@pytest.mark.faults`, as `hil sim faults` lists
them) run on a guest booted with the fault on from boot (`--lab-fault`: the
lab's disk carries it before QEMU starts, as the fault matrix does on the
sim), after one run of all of them on a guest without faults. A declaring
test that passes without the fault must fail or break with it; one that is
skipped without it (the lab lacks what it needs) has nothing to turn red.
Only the declaring tests run (the other tests staying as they were is the
sim's fault matrix's job): each run boots its own guest, minutes each.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hil.faultmatrix import RED, Outcome, run_suites
from hil.suites import fault_coverage, suites_dir
from hil.vrig.build import GUEST_DIR


def guest_faults() -> list[str]:
    """The faults the guest's lab has a hook for."""
    return sorted(p.name for p in (GUEST_DIR / "faults.d").iterdir() if p.is_file())


@dataclass(frozen=True)
class FaultRow:
    fault: str
    test: str
    without: str
    with_fault: str
    reason: str

    @property
    def ok(self) -> bool:
        return self.without != "passed" or self.with_fault in RED

    @property
    def note(self) -> str:
        if self.without == "skipped":
            return "skipped without the fault: nothing to turn red"
        if self.without != "passed":
            return f"{self.without} without the fault"
        return "red" if self.ok else "NOT RED"


def _run(lab: Path, faults: list[str], tests: list[str]) -> dict[str, Outcome]:
    with tempfile.TemporaryDirectory(prefix="hil-vrig-faults-") as registry:
        saved = os.environ.get("HIL_VRIG_DIR")
        os.environ["HIL_VRIG_DIR"] = registry  # nobody's served guest: a boot of its own
        try:
            root = suites_dir().parent
            return run_suites(str(lab), faults, [root / t for t in tests], timeout=2400)
        finally:
            if saved is None:
                os.environ.pop("HIL_VRIG_DIR", None)
            else:
                os.environ["HIL_VRIG_DIR"] = saved


def check(lab: Path, suites: list[str], faults: list[str]) -> list[FaultRow]:
    """Run the declaring tests of `suites` without faults, then under each of `faults`."""
    files = {f"suites/test_{name}.py" for name in suites}
    coverage = fault_coverage(str(lab))
    covers = {f: [t for t in coverage.get(f, []) if t.split("::")[0] in files] for f in faults}
    every = sorted({t for tests in covers.values() for t in tests})
    if not every:
        return []
    baseline = _run(lab, [], every)
    rows = []
    for fault in faults:
        if not covers[fault]:
            continue
        faulted = _run(lab, [fault], covers[fault])
        for nodeid in sorted(faulted):
            base = baseline.get(nodeid)
            got = faulted[nodeid]
            rows.append(
                FaultRow(
                    fault, nodeid, base.outcome if base else "not run", got.outcome, got.reason
                )
            )
    return rows


def render(rows: list[FaultRow]) -> str:
    bad = [r for r in rows if not r.ok]
    lines = [
        "# Virtual rig: lab faults and the tests that declare them",
        "",
        f"{len(rows)} test runs under {len({r.fault for r in rows})} faults: "
        f"{sum(r.ok for r in rows)} as they must be, {len(bad)} not.",
        "",
        "| fault | test | without | with the fault | | reason under the fault |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        reason = r.reason.strip().splitlines()[-1][:160] if r.reason.strip() else ""
        lines.append(
            f"| {r.fault} | `{r.test}` | {r.without} | {r.with_fault} | {r.note} | "
            f"{reason.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"
