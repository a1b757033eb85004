"""The reporting half of the pytest plugin, through the real plugin on the sim lab."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hil.board import Board
from hil.console import CommandResult
from hil.console.transcript import Transcript, add_command_listener, remove_command_listener
from hil.lab import load_lab
from hil.report.pytest_hooks import pytest_hil_modem_vid_pid
from tests.conftest import REPO, SIM_LAB
from tests.report_helpers import (
    CELLULAR_SUITE,
    WIFI_SUITE,
    by_name,
    labels,
    results,
    run_pytest,
    write_suites,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of a wifi and a cellular suite on both sim boards; pi3-b's modem fails."""
    tmp = tmp_path_factory.mktemp("report-plugin")
    suites = write_suites(tmp / "suites", wifi=WIFI_SUITE, cellular=CELLULAR_SUITE)
    r = run_pytest(suites, tmp, env={"HIL_TEST_FAIL_ON": "pi3-b"})
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp


def _results(run: Path) -> dict[str, dict]:
    return by_name(results(run / "out/allure-results"))


def test_every_result_has_board_device_type_and_os_release(run: Path) -> None:
    rs = _results(run)
    assert len(rs) == 12  # 4 wifi + 2 cellular tests × 2 boards
    for name, r in rs.items():
        lab = labels(r)
        board = "pi4-a" if "pi4-a" in name else "pi3-b"
        assert lab["board"] == [board], name
        assert lab["device_type"] == [{"pi4-a": "raspberrypi4-64", "pi3-b": "raspberrypi3"}[board]]
        # read over the console from /etc/os-release (not configured in sim.yaml)
        assert lab["os_release"] == [{"pi4-a": "2.113.4", "pi3-b": "2.108.27"}[board]]
        area = "cellular" if "modem" in name or "registration" in name else "wifi"
        assert lab["parentSuite"] == lab["os_release"]
        assert lab["suite"] == [area]
        assert lab["subSuite"] == [board]
        assert lab["severity"] == ["critical"]  # wifi and cellular stop a release


def test_os_release_is_read_once_per_board(run: Path) -> None:
    for board in ("pi4-a", "pi3-b"):
        log = run / "out/transcripts" / board / "os-release.jsonl"
        commands = [json.loads(line)["command"] for line in log.read_text().splitlines()]
        assert commands.count("cat /etc/os-release") == 1


def test_modem_tests_carry_modem_and_vid_pid(run: Path) -> None:
    rs = _results(run)
    pi4 = labels(rs["test_registration[pi4-a]"])  # a test about every modem of pi4-a
    assert pi4["modem"] == ["Huawei E3372", "SIMCom SIM7600E"]
    # read from the board's udev by each modem's port: the E3372 in modem mode, after
    # the switch from the storage-mode id the lab config gives (12d1:1f01); the SIM7600
    # switched by the lab's rule the board was flashed with (1e0e:9011 → 1e0e:9001)
    assert pi4["vid_pid"] == ["12d1:1506", "1e0e:9001"]
    ec25 = labels(rs["test_modem_answers[pi3-b]"])
    assert (ec25["modem"], ec25["vid_pid"]) == (["Quectel EC25"], ["2c7c:0125"])
    assert "modem" not in labels(rs["test_dns_resolves[pi4-a]"])


def test_outcomes(run: Path) -> None:
    status = {n: r["status"] for n, r in _results(run).items()}
    assert status["test_os_release_readable[pi4-a]"] == "passed"
    assert status["test_dns_resolves[pi4-a]"] == "failed"
    assert status["test_roaming[pi4-a]"] == "skipped"
    assert status["test_harness_breaks[pi4-a]"] == "broken"
    assert status["test_registration[pi3-b]"] == "failed"
    assert status["test_registration[pi4-a]"] == "passed"


def test_one_step_per_console_command_with_its_output(run: Path) -> None:
    r = _results(run)["test_os_release_readable[pi4-a]"]
    steps = r["steps"]
    assert [s["name"] for s in steps] == ["$ cat /etc/os-release"]
    step = steps[0]
    assert step["status"] == "passed"
    assert {"name": "exit status", "value": "0"} in step["parameters"]
    assert step["start"] <= step["stop"]
    out = run / "out/allure-results" / step["attachments"][0]["source"]
    assert 'VERSION="2.113.4"' in out.read_text()


def test_transcript_is_attached(run: Path) -> None:
    r = _results(run)["test_dns_resolves[pi3-b]"]
    names = [a["name"] for a in r["attachments"]]
    assert any(n.startswith("console ") and n.endswith(".log") for n in names), names
    source = next(a["source"] for a in r["attachments"] if a["name"].startswith("console "))
    text = (run / "out/allure-results" / source).read_text()
    assert re.search(r" > .*echo", text) and "lookup hil-lab.example" in text


def test_board_facts_on_failure_and_not_on_success(run: Path) -> None:
    rs = _results(run)
    failed = rs["test_dns_resolves[pi4-a]"]
    facts = [s for s in failed["steps"] if s["name"] == "board facts after the failure"]
    assert len(facts) == 1
    commands = [s["name"] for s in facts[0]["steps"]]
    for tool in ("nmcli", "mmcli", "ip addr", "dmesg"):
        assert any(tool in c for c in commands), (tool, commands)
    text = (run / "out/allure-results" / facts[0]["attachments"][0]["source"]).read_text()
    assert "# Board facts of pi4-a" in text and "$ mmcli -L" in text
    broken = rs["test_harness_breaks[pi4-a]"]  # no shell fixture: the facts open their own
    assert any(s["name"] == "board facts after the failure" for s in broken["steps"])
    passed = rs["test_os_release_readable[pi4-a]"]
    assert not any(s["name"] == "board facts after the failure" for s in passed["steps"])


def test_parameters_are_stable_and_name_the_release(run: Path) -> None:
    r = _results(run)["test_dns_resolves[pi4-a]"]
    params = {p["name"]: p["value"] for p in r["parameters"]}
    assert params == {"board": "pi4-a", "os_release": "2.113.4"}
    other = _results(run)["test_dns_resolves[pi3-b]"]
    assert r["historyId"] != other["historyId"]


def test_environment_and_categories_are_written(run: Path) -> None:
    res = run / "out/allure-results"
    env = (res / "environment.properties").read_text()
    assert "lab=sim-lab" in env
    assert "os_releases=2.108.27, 2.113.4" in env
    assert "board.pi4-a=raspberrypi4-64 @ 2.113.4" in env
    assert "hil.version=" in env and "host=" in env
    cats = json.loads((res / "categories.json").read_text())
    names = [c["name"] for c in cats]
    for wanted in (
        "Modem not found",
        "Modem stuck in storage mode",
        "SIM",
        "Registration",
        "APN / bearer",
        "WiFi authentication",
        "DHCP",
        "DNS",
        "NTP",
        "Proxy",
        "Console lost or timed out",
        "Board rebooted",
    ):
        assert wanted in names


def test_same_results_whatever_the_history_id_hashing_saw(tmp_path: Path) -> None:
    """Two runs give the same historyIds: history links runs of the same test."""
    suites = write_suites(tmp_path / "suites", wifi=WIFI_SUITE)
    ids = []
    for n in (1, 2):
        cwd = tmp_path / f"run{n}"
        cwd.mkdir()
        run_pytest(suites, cwd, "--board=pi3-b")
        ids.append(sorted(r["historyId"] for r in results(cwd / "out/allure-results")))
    assert ids[0] == ids[1]


class _FakeShell:
    """A board whose udev answers with a recorded `udevadm info --export-db`."""

    def __init__(self, export: str) -> None:
        self.export = export
        self.commands: list[str] = []

    def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        self.commands.append(command)
        if command == "udevadm info --export-db":
            return CommandResult(command, self.export, 0, 0.0)
        return CommandResult(command, "sh: udevadm: not found\n", 127, 0.0)


def test_vid_pid_is_read_from_the_board_by_port_when_it_can_tell() -> None:
    # upstream data: labgrid issue #696, a Raspberry Pi 3's `udevadm info --export-db`
    export = (REPO / "fixtures/udev/export-db/labgrid-696-rpi3-hub.txt").read_text()
    lab = load_lab(SIM_LAB)
    board = Board(lab, lab.board("pi3-b"))
    modem = board.config.modems[0].model_copy(
        update={"usb_path": "platform-3f980000.usb-usb-0:1.3"}
    )
    shell = _FakeShell(export)
    assert pytest_hil_modem_vid_pid(board, modem, shell) == "2109:2817"
    assert "udevadm info --export-db" in shell.commands
    # nothing at that port on the board: the lab config's answer
    elsewhere = modem.model_copy(update={"usb_path": "platform-3f980000.usb-usb-0:1.5"})
    assert pytest_hil_modem_vid_pid(board, elsewhere, shell) == "2c7c:0125"
    assert pytest_hil_modem_vid_pid(board, modem, None) == "2c7c:0125"


def test_command_listeners_hear_every_recorded_command(tmp_path: Path) -> None:
    heard: list[tuple[object, dict]] = []

    def listener(transcript: Transcript, entry: dict) -> None:
        heard.append((transcript, entry))

    def broken(transcript: Transcript, entry: dict) -> None:
        raise RuntimeError("a reporting bug")

    add_command_listener(listener)
    add_command_listener(broken)
    t = Transcript(tmp_path / "console.log", board="pi4-a")
    try:
        entry = t.record(command="echo hi", output="hi\n", exit_code=0, start=1.0, duration=0.5)
    finally:
        remove_command_listener(listener)
        remove_command_listener(broken)
        t.close()
    Transcript(None).record(command="not heard", output="", exit_code=0, start=2.0, duration=0)
    assert heard == [(t, entry)]
    assert (entry["command"], entry["output"], entry["exit_code"]) == ("echo hi", "hi\n", 0)
    # the broken listener cost a note in the transcript, not the console
    assert (
        "command listener failed: RuntimeError: a reporting bug"
        in (tmp_path / "console.log").read_text()
    )


POWER_CYCLING_SUITE = """
import pytest

from hil.console import BoardRebooted

@pytest.mark.needs("modem")
def test_power_cycles_on_a_console_of_its_own(board, shell):
    board.power_cycle(wait=False)
    with pytest.raises(BoardRebooted):
        shell.run("true")
    shell.close()  # as the cellular suite's power cycle: its first shell closed
    with board.open_shell() as again:
        assert again.run("echo back").exit_code == 0

@pytest.mark.needs("modem")
def test_runs_next(board, shell):
    assert shell.run("echo next").exit_code == 0
"""


def test_a_test_that_closed_its_shell_is_labelled_and_torn_down(tmp_path: Path) -> None:
    """The modem labels are read at teardown over the test's shell: one the test closed
    is not used (the lab config's VID:PID instead), and the teardown happens — it was
    skipped once, and pytest failed the next test with "previous item was not torn
    down properly"."""
    suites = write_suites(tmp_path / "suites", cellular=POWER_CYCLING_SUITE)
    r = run_pytest(suites, tmp_path, "--board=pi3-b")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "torn down" not in r.stdout
    rs = _results(tmp_path)
    assert {n: x["status"] for n, x in rs.items()} == {
        "test_power_cycles_on_a_console_of_its_own[pi3-b]": "passed",
        "test_runs_next[pi3-b]": "passed",
    }
    cycled = labels(rs["test_power_cycles_on_a_console_of_its_own[pi3-b]"])
    assert cycled["vid_pid"] == ["2c7c:0125"]  # pi3-b's EC25, from the lab config
