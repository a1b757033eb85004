"""Record and replay: a recorded sim run, re-run against boards served from its
transcripts, gives the same verdicts; what the recording lacks is a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hil.lab.secrets import MASK
from hil.repro.recording import Answer, Recording, recorded_tests
from hil.repro.replay import command_names
from hil.suites import SUITE_NAMES, suite_files
from tests.conftest import REPO, SIM_LAB


def _record(tmp: Path, faults: list[str], suites: list[str] | None = None) -> tuple[Path, dict]:
    """Run the suites on the sim lab, keeping transcripts and outcomes."""
    transcripts, outcomes = tmp / "transcripts", tmp / "recorded.json"
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--lab={SIM_LAB}", f"--outcomes={outcomes}", f"--transcripts={transcripts}",
        *[f"--lab-fault={f}" for f in faults], *map(str, suite_files(suites)),
    ]  # fmt: skip
    env = {**os.environ, "HIL_SIM_DIR": str(tmp / "sim")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert outcomes.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return transcripts, json.loads(outcomes.read_text())


def _replay(hil_cmd: list[str], transcripts: Path, tmp: Path, *extra: str) -> tuple[dict, str]:
    outcomes = tmp / "replayed.json"
    cmd = [
        *hil_cmd, "replay", str(transcripts), f"--outcomes={outcomes}",
        f"--transcripts={tmp / 'replay-transcripts'}", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert outcomes.exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(outcomes.read_text()), proc.stdout


@pytest.mark.parametrize(
    ("faults", "suites"),
    [
        ([], SUITE_NAMES),
        (["dhcp-timeout"], ["ethernet"]),
        # the hotspot's client joins and gets no lease: the recorded answers say so; ethernet
        # runs beside it so that pi3-b (no hotspot: its tests skip) has a recording too
        (["hotspot-dhcp-fails"], ["hotspot", "ethernet"]),
    ],
    ids=["all-suites", "ethernet-dhcp-timeout", "hotspot-dhcp-fails"],
)
def test_replay_of_a_recorded_sim_run_gives_the_same_verdicts(
    tmp_path: Path, hil_cmd: list[str], faults: list[str], suites: list[str] | None
) -> None:
    """The recorded run's outcomes (and reasons) are the replay's, test by test."""
    transcripts, recorded = _record(tmp_path, faults, suites)
    assert recorded, "the recorded run ran no test"
    if faults:
        assert any(v["outcome"] in ("failed", "broken") for v in recorded.values())
    # the recording keeps each board's config (secrets masked) and its tests
    board_yaml = yaml.safe_load((transcripts / "pi4-a" / "board.yaml").read_text())
    assert board_yaml["wifi"][0]["psk"] == MASK
    assert "hil-lab-passphrase" not in (transcripts / "pi4-a" / "board.yaml").read_text()
    assert recorded_tests(transcripts)
    replayed, _ = _replay(hil_cmd, transcripts, tmp_path, *[f"--lab-fault={f}" for f in faults])
    assert replayed == recorded


def test_a_command_not_in_the_recording_is_a_clear_error(
    tmp_path: Path, hil_cmd: list[str]
) -> None:
    board = tmp_path / "rec" / "pi4-a"
    board.mkdir(parents=True)
    answers = [
        {"command": "cat /etc/hostname", "output": "3f2a1bc\n", "exit_code": 0, "start": 1.0},
        {"command": "sleep 100", "output": "", "exit_code": None, "start": 2.0,
         "error": "pi4-a: `sleep 100` timed out after 1s"},
    ]  # fmt: skip
    (board / "t.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    lab = tmp_path / "replay.yaml"
    lab.write_text(
        yaml.safe_dump(
            {
                "name": "replay-lab",
                "boards": [
                    {
                        "name": "pi4-a",
                        "device_type": "raspberrypi4-64",
                        "console": {"url": f"replay://{board}", "login_timeout": 20},
                    }
                ],
            }
        )
    )
    base = [*hil_cmd, "exec", "--lab", str(lab), "--board", "pi4-a", "--"]
    r = subprocess.run([*base, "cat", "/etc/hostname"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "3f2a1bc\n"), r.stderr
    r = subprocess.run([*base, "cat", "/etc/os-release"], capture_output=True, text=True)
    assert r.returncode == 255, r
    assert "`cat /etc/os-release` is not in the recording" in r.stderr
    assert r.stderr.count("\n") == 1
    r = subprocess.run([*hil_cmd, "exec", "--lab", str(lab), "--board", "pi4-a",
                        "--timeout", "1", "--", "sleep", "100"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 124, r  # timed out on the board, so it times out again


@pytest.mark.skipif(not suite_files(), reason="no suites yet")
def test_a_suite_that_strays_from_the_recording_goes_red(
    tmp_path: Path, hil_cmd: list[str]
) -> None:
    transcripts, _ = _record(tmp_path, [], ["ethernet"])
    stray = tmp_path / "test_stray.py"
    stray.write_text(
        "def test_stray(shell):\n"
        "    r = shell.run('cat /etc/never-recorded', timeout=10)\n"
        "    assert r.exit_code != 0  # would pass on a real board: the file is not there\n"
    )
    replayed, said = _replay(hil_cmd, transcripts, tmp_path, f"--test={stray}")
    mine = {k: v for k, v in replayed.items() if "test_stray" in k}
    assert mine and all(v["outcome"] == "broken" for v in mine.values()), mine
    assert all("NotInRecording" in v["reason"] for v in mine.values()), mine
    assert "`cat /etc/never-recorded` is not in the recording" in said
    # the recorded tests still pass against their answers
    assert all(v["outcome"] == "passed" for k, v in replayed.items() if "test_stray" not in k)


# -- the recording's lookup ------------------------------------------------------------
def _answer(command: str, output: str, start: float) -> Answer:
    return Answer(command, output.encode(), 0, None, start, "t.jsonl:1")


def test_answers_come_in_recorded_order_and_the_last_repeats() -> None:
    rec = Recording("r", [_answer("nmcli -t device", f"state {i}\n", i) for i in range(3)])
    got = [rec.answer("nmcli -t device").output for _ in range(5)]
    assert got == [b"state 0\n", b"state 1\n", b"state 2\n", b"state 2\n", b"state 2\n"]


def test_a_command_is_found_whole_in_the_typed_line() -> None:
    rec = Recording("r", [_answer("ip link", "", 0), _answer("ip link show wlan0", "", 1)])
    line = "echo 'ab12''cd34'; ip link show wlan0; printf '%s %d\\n' 'ef''gh' \"$?\""
    assert rec.find(line)[2] == "ip link show wlan0"
    assert rec.find("echo 'a''b'; ip link show eth0; printf x") is None
    v2 = '__hil_s=-; { __hil_s=; ip link\n} >"$__hil_f" 2>&1; __hil_s=${__hil_s:-$?}'
    assert rec.find(v2)[2] == "ip link"


def test_masked_secrets_and_random_tokens_match_any_text() -> None:
    recorded = f"printf '%s' '{MASK}' > /mnt/boot/.resin-wifi.hil-1a2b3c4d.tmp.b64"
    rec = Recording("r", [_answer(recorded, "", 0)])
    live = "printf '%s' 'W2Nvbm5lY3Rpb25d' > /mnt/boot/.resin-wifi.hil-99ffee00.tmp.b64"
    assert rec.find(f"echo 'a''b'; {live}; printf x")[2] == recorded
    other = "printf '%s' 'W2Nvbm5lY3Rpb25d' > /mnt/boot/.other.hil-99ffee00.tmp.b64"
    assert rec.find(f"echo 'a''b'; {other}; printf x") is None


def test_command_names() -> None:
    assert command_names("stty -echo 2>/dev/null; export TERM=dumb") == {"stty", "export"}
    assert command_names("base64 -d a > b && rm -f a && sha256sum b") == {
        "base64",
        "rm",
        "sha256sum",
    }
    assert command_names("nmcli -t device | grep wifi") == {"nmcli", "grep"}


def test_recording_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"command": "ls"}\nnot json\n')
    with pytest.raises(Exception, match=r"t\.jsonl:2: not a structured transcript line"):
        Recording.load(bad)
    with pytest.raises(Exception, match="no structured transcripts"):
        Recording.load(tmp_path / "nothing") if (tmp_path / "nothing").mkdir() is None else None


def test_serve_offers_the_recorded_board_on_a_pty_like_any_line(
    tmp_path: Path, hil_cmd: list[str]
) -> None:
    """`hil replay --serve`: the console opens the pty as it opens a USB-serial adapter."""
    import signal

    from hil.console import open_shell

    board = tmp_path / "rec" / "pi4-a"
    board.mkdir(parents=True)
    (board / "t.jsonl").write_text(
        json.dumps({"command": "uname -m", "output": "aarch64\n", "exit_code": 0, "start": 1})
        + "\n"
    )
    (board / "board.yaml").write_text(
        yaml.safe_dump({"name": "pi4-a", "device_type": "raspberrypi4-64", "console": {"url": "x"}})
    )
    proc = subprocess.Popen(
        [*hil_cmd, "replay", str(tmp_path / "rec"), "--serve"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("pi4-a: /dev/pts/"), line
        pty = line.split()[1]
        with open_shell(pty, name="pi4-a", timeout=20) as sh:
            r = sh.run("uname -m", timeout=10)
            assert (r.output, r.exit_code) == ("aarch64\n", 0)
            r = sh.run("uname -r", timeout=10)
            assert r.exit_code == 127 and "not in recording: uname -r" in r.output
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_a_masked_word_at_the_end_of_a_command_stretches_to_its_end() -> None:
    recorded = f"nmcli connection add type gsm apn internet user u {MASK} {MASK}"
    rec = Recording("r", [_answer(recorded, "ok\n", 0)])
    live = "nmcli connection add type gsm apn internet user u password '******'"
    assert rec.find(f"__hil_s=-; {{ __hil_s=; {live}\n}}")[2] == recorded


def test_the_running_tests_own_answers_come_first() -> None:
    a = Answer("mmcli -m 0 -K", b"state: registered\n", 0, None, 1.0, "test_a_pi4-a_.jsonl:1")
    b = Answer("mmcli -m 0 -K", b"state: failed\n", 0, None, 2.0, "test_b_pi4-a_.jsonl:1")
    rec = Recording("r", [a, b])
    rec.set_scope("test_b_pi4-a_")
    assert rec.answer("mmcli -m 0 -K").output == b"state: failed\n"
    assert rec.answer("mmcli -m 0 -K").output == b"state: failed\n"  # its last, again
    rec.set_scope("test_c_pi4-a_")  # no answer of its own: the run's, in order
    assert rec.answer("mmcli -m 0 -K").output == b"state: failed\n"
