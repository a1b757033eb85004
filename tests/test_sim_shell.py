"""The simulated board's shell grammar, without a pty: quotes, lists, pipes, redirection."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from hil.lab import load_lab
from hil.sim.shell import Shell
from hil.sim.world import World
from tests.conftest import SIM_LAB


@pytest.fixture
def sh() -> tuple[Shell, bytearray]:
    lab = load_lab(SIM_LAB, env={})
    world = World(lab.boards[0])
    world.boot()
    out = bytearray()
    return Shell(world, out=out.extend), out


def run(sh: tuple[Shell, bytearray], line: str) -> tuple[str, int]:
    shell, out = sh
    out.clear()
    status = shell.run_line(line)
    return out.decode(), status


CASES = [
    ("echo hello world", "hello world\n", 0),
    ("echo 'a  b' \"c  d\"", "a  b c  d\n", 0),
    ("echo '$?' \"$?\"", "$? 0\n", 0),
    ("false; echo $?", "1\n", 0),
    ("true && echo yes || echo no", "yes\n", 0),
    ("false && echo yes || echo no", "no\n", 0),
    ("false || false", "", 1),
    ("(exit 3); echo $?", "3\n", 0),
    ("(exit 300)", "", 44),
    ("echo a | cat | cat", "a\n", 0),
    ("printf 'x\\ny\\nz\\n' | grep -v y", "x\nz\n", 0),
    ("printf '%s-%d\\n' a 5", "a-5\n", 0),
    ("echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f", "one\ntwo\n", 0),
    ("cat /nope 2>/dev/null; echo $?", "1\n", 0),
    ("cat /nope", "cat: can't open '/nope': No such file or directory\n", 1),
    ("foo", "sh: foo: not found\n", 127),
    ("X=5; echo ${X}$X", "55\n", 0),
    ("echo $(echo inner) done", "inner done\n", 0),
    ("ls /mnt/boot/system-connections/*", "/mnt/boot/system-connections/resin-sample.ignore\n", 0),
    ('echo "unterminated', "sh: unterminated quoted string\n", 2),
    ("echo a ;; echo b", None, 2),
    ("grep -c VERSION /etc/os-release", "3\n", 0),
    ("test -f /etc/os-release && echo file", "file\n", 0),
    ("[ 3 -gt 2 ] && echo gt", "gt\n", 0),
    ("echo x 2>&1 | wc -l", "1\n", 0),
    ("echo -n no-newline", "no-newline", 0),
    ("echo a\\ b", "a b\n", 0),
    ("echo hi # a comment", "hi\n", 0),
    ("cd /mnt/boot && ls system-connections", "resin-sample.ignore\n", 0),
    ("! false && echo negated", "negated\n", 0),
]


@pytest.mark.parametrize(("line", "output", "status"), CASES, ids=[c[0] for c in CASES])
def test_shell_grammar(sh, line: str, output: str | None, status: int) -> None:
    got, code = run(sh, line)
    if output is not None:
        assert got == output
    assert code == status


def test_os_release_from_sim_map(sh) -> None:
    got, _ = run(sh, "cat /etc/os-release")
    assert 'VERSION="2.113.4"' in got and 'VERSION_ID="2.113.4"' in got
    assert "BALENA_BOARD_REV=" in got and 'MACHINE="raspberrypi4-64"' in got


def test_config_json_and_uname(sh) -> None:
    got, _ = run(sh, "cat /mnt/boot/config.json")
    assert '"deviceType": "raspberrypi4-64"' in got
    got, _ = run(sh, "uname -a")
    assert got.startswith("Linux 3f2a1bc 5.15") and "aarch64" in got
    assert run(sh, "hostname")[0] == "3f2a1bc\n"


def test_exit_at_top_level_ends_the_session(sh) -> None:
    from hil.sim.shell import ExitShell

    with pytest.raises(ExitShell) as e:
        run(sh, "exit 4")
    assert e.value.status == 4


@pytest.mark.parametrize(
    "args", ["bs=512 skip=1 count=1", "bs=1k count=2", "bs=512 skip=9 count=1", "bs=100 skip=3"]
)
def test_dd_reads_pieces_of_a_file_as_the_real_one(sh, tmp_path, args) -> None:
    """The console prints damaged outputs again in pieces with `dd`: same bytes as
    coreutils' dd (run here) for the same file."""
    data = bytes(range(256)) * 9 + b"tail"
    (tmp_path / "f").write_bytes(data)
    sh[0].world.fs.write("/tmp/f", data)
    real = subprocess.run(
        ["dd", f"if={tmp_path / 'f'}", *args.split()], capture_output=True, check=True
    ).stdout
    shell, out = sh
    out.clear()
    assert shell.run_line(f"dd if=/tmp/f {args} 2>/dev/null") == 0
    assert bytes(out) == real
    out.clear()
    shell.run_line(f"dd if=/tmp/f {args} 2>/dev/null | md5sum")
    assert out.decode().split()[0] == hashlib.md5(real).hexdigest()
