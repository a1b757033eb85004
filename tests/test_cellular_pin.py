"""The sim lab's PIN-locked SIM (pi3-b's EC25): the cellular suite unlocks it with
the lab config's PIN and goes green; a wrong PIN turns it red in ModemManager's
words; the PIN never reaches a transcript, an allure result or the run's output.

Each case runs the real suite (`suites/test_cellular.py`) in its own pytest
process against the sim lab, as `hil run` and the fault matrix do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SIM_LAB
from tests.test_report_secrets import leaks

SUITE = REPO / "suites" / "test_cellular.py"
#: lab-config/sim.yaml: the PIN of pi3-b's SIM, in the board's `modems:` (the lab's
#: secret) and in its `sim:` world (the card's own)
PIN = "51739264"
WRONG_PIN = "62840375"
#: the SIM unlocked by the suite itself, and by NetworkManager from the boot partition's
#: keyfile (`gsm.pin`) after a power cycle relocked it
TESTS = "pi3-b and (test_sim_ready_and_registered or test_gsm_connection_from_boot_partition)"


def run_suite(lab: Path, tmp: Path) -> tuple[dict[str, dict], str]:
    """Outcomes by test id, and everything the run wrote or printed (for the scan)."""
    outcomes = tmp / "outcomes.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--lab={lab}",
        f"--outcomes={outcomes}",
        f"--transcripts={tmp / 'transcripts'}",
        f"--alluredir={tmp / 'allure'}",
        "-k",
        TESTS,
        str(SUITE),
    ]
    env = {**os.environ, "HIL_SIM_DIR": str(tmp / "sim")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert outcomes.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    written = [
        p.read_text(errors="replace")
        for d in ("transcripts", "allure")
        for p in sorted((tmp / d).rglob("*"))
        if p.is_file()
    ]
    said = [outcomes.read_text(), proc.stdout, proc.stderr]
    return json.loads(outcomes.read_text()), "\n".join([*written, *said])


def test_the_sim_lab_has_a_pin_locked_sim() -> None:
    text = SIM_LAB.read_text()
    assert f'pin: "{PIN}", timeout' in text  # the lab's secret, in the board's modems:
    assert f'sim: locked, pin: "{PIN}"' in text  # the card's PIN, in its sim: world


def test_the_lab_pin_unlocks_the_sim_and_never_shows(tmp_path: Path) -> None:
    outcomes, everything = run_suite(SIM_LAB, tmp_path)
    assert len(outcomes) == 2, outcomes
    assert {o["outcome"] for o in outcomes.values()} == {"passed"}, outcomes
    transcripts = "".join(
        p.read_text() for p in (tmp_path / "transcripts").rglob("*") if p.is_file()
    )
    # the SIM was locked and the suite sent the lab's PIN — masked where it was typed
    assert "modem.generic.state                             : locked" in transcripts
    assert "--pin=******" in transcripts
    assert PIN not in everything
    # nor base64-encoded (the boot partition's keyfile goes over the console in chunks)
    assert not leaks(tmp_path / "transcripts", [PIN])
    assert not leaks(tmp_path / "allure", [PIN])


def test_a_wrong_pin_is_red_in_modemmanagers_words(tmp_path: Path) -> None:
    text = SIM_LAB.read_text().replace(f'pin: "{PIN}", timeout', f'pin: "{WRONG_PIN}", timeout')
    lab = tmp_path / "wrong-pin.yaml"
    lab.write_text(text)
    outcomes, everything = run_suite(lab, tmp_path)
    assert len(outcomes) == 2, outcomes
    for test, o in outcomes.items():
        # red (the suite's CellularError is recorded as broken, with its reason)
        assert o["outcome"] in ("failed", "broken"), (test, o)
    reasons = [o["reason"] for o in outcomes.values()]
    # the first try: ModemManager's state and its error for the refused PIN
    assert any(
        "locked (sim-pin required, 3 tries left); the lab's PIN was refused: "
        "Incorrect password" in r
        for r in reasons
    ), reasons
    # never the last try: the SIM is not pushed into wanting its PUK
    assert not any("sim-puk" in r for r in reasons), reasons
    assert WRONG_PIN not in everything and PIN not in everything
