"""Boot-partition cases batched into fewer reboots (suites/netsupport.py `applied`,
`Board.owe_reboot`, marker `boot_case`): the undo reboot of a case is folded into the
next case's apply reboot; a test that applies nothing gets the owed reboot when it
opens its shell; the run's end pays what is still owed. Run on the sim lab, counted
from the transcripts (every `reboot` the harness typed)."""

from __future__ import annotations

from pathlib import Path

from hil.faultmatrix import run_suites
from tests.support.reboots import typed_reboots

REPO = Path(__file__).resolve().parents[1]
SIM_LAB = str(REPO / "lab-config" / "sim.yaml")
SUITES = REPO / "suites"
BOOT_CASES = [
    "test_ethernet.py::test_static_ip_on_ethernet[pi4-a]",
    "test_wifi.py::test_wpa_psk_connects[lab-wpa2-pi4-a]",
    "test_regdomain.py::test_country_sets_the_regulatory_domain[pi4-a-GB]",
]
PLAIN = "test_ethernet.py::test_default_wired_connection_comes_up[pi4-a]"
OWED = "reboot owed by an earlier test"


def run(tmp_path: Path, tests: list[str]) -> tuple[dict, Path]:
    transcripts = tmp_path / "transcripts"
    outcomes = run_suites(SIM_LAB, [], files=[SUITES / t for t in tests], transcripts=transcripts)
    return outcomes, transcripts / "pi4-a"


def name_of(test: str) -> str:
    """A test's transcript name (`test_x_pi4-a_`)."""
    return test.split("::")[1].replace("[", "_").replace("]", "_")


def log_of(board_dir: Path, test: str) -> Path:
    return board_dir / f"{name_of(test)}.log"


def test_cases_in_a_row_cost_one_reboot_each_and_a_plain_test_pays_the_last_undo(
    tmp_path: Path,
) -> None:
    outcomes, board_dir = run(tmp_path, [*BOOT_CASES, PLAIN])
    assert {o.outcome for o in outcomes.values()} == {"passed"}, outcomes
    assert len(outcomes) == 4, outcomes
    # each case reboots once to apply (the first one also undoes nothing; the others
    # undo the case before): 3 cases, 3 reboots, not 6
    typed = typed_reboots(board_dir)
    assert [typed[name_of(t)] for t in BOOT_CASES] == [1, 1, 1]
    # the plain test finds the last case undone: one reboot, with its reason
    plain = log_of(board_dir, PLAIN).read_text()
    assert typed[name_of(PLAIN)] == 1
    assert sum(typed.values()) == 4, typed
    assert f"{OWED}: undo of config.json country (boot partition)" in plain
    assert not (board_dir / "owed-reboot.log").exists()


def test_the_run_pays_what_is_still_owed_at_its_end(tmp_path: Path) -> None:
    outcomes, board_dir = run(tmp_path, BOOT_CASES[:2])
    assert {o.outcome for o in outcomes.values()} == {"passed"}, outcomes
    end = board_dir / "owed-reboot.log"
    assert end.exists(), sorted(p.name for p in board_dir.iterdir())
    assert typed_reboots(board_dir)["owed-reboot"] == 1
    assert f"{OWED}: undo of system-connections/resin-wifi (boot partition)" in end.read_text()


def test_a_failing_case_is_undone_at_once_when_its_console_failed(tmp_path: Path) -> None:
    """`reboot-ignored`: the apply reboot is refused (DidNotReboot, a console-level
    failure): the undo reboots at once, nothing is left owed for the run's end."""
    transcripts = tmp_path / "transcripts"
    outcomes = run_suites(
        SIM_LAB,
        ["reboot-ignored"],
        files=[SUITES / BOOT_CASES[0]],
        transcripts=transcripts,
    )
    assert [o.outcome for o in outcomes.values()] != ["passed"], outcomes
    assert not (transcripts / "pi4-a" / "owed-reboot.log").exists()


def test_a_test_that_leaves_eth0_without_a_connection_owes_a_reboot(tmp_path: Path) -> None:
    """The runtime suite's boot-partition test deletes the connection it brought and
    leaves eth0 with none: it owes a reboot, so that the ethernet suite's default wired
    connection test passes after it (it failed when the runtime suite ran first)."""
    runtime = (
        "test_runtime.py::test_boot_partition_changes_apply_after_reboot_and_copies_stay[pi4-a]"
    )
    outcomes, board_dir = run(tmp_path, [runtime, PLAIN])
    assert {o.outcome for o in outcomes.values()} == {"passed"}, outcomes
    assert f"{OWED}: hil-boot-eth deleted" in log_of(board_dir, PLAIN).read_text()
