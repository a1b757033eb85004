"""Agreement between the tiers: every suite test's verdict on a simulated board
and on the virtual rig, for the same configuration.

`hil vrig agree` runs the suites on `lab-config/vrig-sim.yaml` (a sim board
with the virtual rig's name, device type, release and lab network) and on
`lab-config/vrig.yaml`, reads both runs' `--outcomes` files and lists every
test with its two verdicts. A difference is either a documented limit of the
virtual rig (`LIMITS`, each naming what is missing) or unexplained — a bug in
the sim, the suite, a parser or the rig to be fixed; unexplained differences
make the command exit 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # where `suites/` are

#: test (nodeid without parameters) → why the virtual rig's verdict differs
LIMITS: dict[str, str] = {
    # the gadget modem is the SIM7600E's AT/PPP port alone (no QMI port), and
    # ModemManager 1.20's simtech plugin resets only over QMI
    "suites/test_cellular.py::test_modem_reset_reenumerates_and_reconnects": (
        "the virtual rig's modem is AT-only: ModemManager cannot reset it (skipped with "
        "its words; the USB power-cycle test covers recovery)"
    ),
}


@dataclass(frozen=True)
class Row:
    test: str
    sim: str
    vrig: str
    vrig_reason: str

    @property
    def base(self) -> str:
        return self.test.split("[", 1)[0]

    @property
    def agrees(self) -> bool:
        return self.sim == self.vrig

    @property
    def note(self) -> str:
        if self.agrees:
            return ""
        return LIMITS.get(self.base, "UNEXPLAINED")


def run_outcomes(lab: Path, suites: list[str], out: Path, quiet: bool = False) -> dict[str, dict]:
    """Run the suites on `lab` with `hil run`; the per-test outcomes."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    outcomes = out / "outcomes.json"
    outcomes.unlink(missing_ok=True)
    lab = lab.resolve()
    cmd = [sys.executable, "-m", "hil.cli.main", "run", "--lab", str(lab), "--workers", "1"]
    cmd += ["--results", str(out / "allure-results"), "--report", str(out / "report")]
    cmd += [f"--suite={s}" for s in suites]
    cmd += ["--", f"--outcomes={outcomes}"]
    # failing tests exit 1: their verdicts are the point
    subprocess.run(cmd, check=False, cwd=REPO, capture_output=quiet)
    if not outcomes.exists():
        raise SystemExit(f"hil vrig agree: {lab}: the run wrote no outcomes ({outcomes})")
    return json.loads(outcomes.read_text())


def compare(sim: dict[str, dict], vrig: dict[str, dict]) -> list[Row]:
    rows = []
    for test in sorted(set(sim) | set(vrig)):
        s, v = sim.get(test, {}), vrig.get(test, {})
        rows.append(
            Row(test, s.get("outcome", "not run"), v.get("outcome", "not run"), v.get("reason", ""))
        )
    return rows


def render(rows: list[Row]) -> str:
    same = sum(r.agrees for r in rows)
    limits = sum(not r.agrees and r.note != "UNEXPLAINED" for r in rows)
    unexplained = sum(r.note == "UNEXPLAINED" for r in rows)
    lines = [
        "# Agreement: sim board vs virtual rig (same configuration)",
        "",
        f"{len(rows)} tests: {same} same verdict, {limits} documented limits, "
        f"{unexplained} unexplained.",
        "",
        "| test | sim | virtual rig | difference |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        note = r.note
        if note == "UNEXPLAINED" and r.vrig_reason:
            note += f": {r.vrig_reason[:200]}"
        lines.append(f"| `{r.test}` | {r.sim} | {r.vrig} | {note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
