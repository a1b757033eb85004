"""Boot-partition files on a live board, through a real console: the sim board, real bash
and busybox ash on a pty (a temp dir standing in for /mnt/boot)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hil.board.files import BoardFileError, BootFileWriter, write_boot_files
from hil.bootfs import BootFile, merge_config_json
from hil.console import ShellSession, open_shell
from hil.lab import load_lab
from hil.sim.board import SimBoard
from hil.sim.world import BOOT, OVERLAY_CONNECTIONS
from tests.conftest import SIM_LAB

PSK = "correct-horse-battery-staple-42"
API_KEY = "d3v1c3ap1k3y0123456789abcdef"
WIFI = (
    "[connection]\nid=hil-wifi\ntype=wifi\n\n[wifi]\nmode=infrastructure\nssid=hil-lab\n\n"
    f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={PSK}\n\n[ipv4]\nmethod=auto\n"
).encode()
#: several console lines' worth, to exercise chunking
BIG = b"".join(f"# line {i} of a long connection file\n".encode() for i in range(400)) + WIFI


@dataclass
class Target:
    """A shell on a pty and where its boot partition lives, seen from the test."""

    kind: str
    shell: ShellSession
    root: str  # the path the board's shell uses
    transcript: Path
    read: object  # (relative path) -> bytes | None
    mode: object  # (relative path) -> int
    listing: object  # (relative dir) -> list[str]
    board: SimBoard | None = None


def _local_target(
    kind: str, tmp_path: Path, shell_cmd: str, env: dict[str, str]
) -> Iterator[Target]:
    """A real shell on a pty made by socat, as a USB-serial console would present it."""
    boot = tmp_path / "boot"
    boot.mkdir()
    link = tmp_path / "console"
    proc = subprocess.Popen(
        ["socat", f"PTY,link={link},raw,echo=0", f"EXEC:{shell_cmd},pty,setsid,ctty,stderr,sane"],
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 10
    while not link.exists():
        assert time.monotonic() < deadline, "socat made no pty"
        time.sleep(0.02)
    transcript = tmp_path / "console.log"
    sh = open_shell(str(link), transcript=str(transcript), name=kind, timeout=20)
    try:
        yield Target(
            kind,
            sh,
            str(boot),
            transcript,
            read=lambda rel: (boot / rel).read_bytes() if (boot / rel).is_file() else None,
            mode=lambda rel: stat.S_IMODE((boot / rel).stat().st_mode),
            listing=lambda rel: sorted(os.listdir(boot / rel)) if (boot / rel).is_dir() else [],
        )
    finally:
        sh.close()
        proc.terminate()
        proc.wait(timeout=10)


def _busybox_path(tmp_path: Path) -> str:
    """A PATH where the file tools are busybox applets (as on a small board), jq as shipped."""
    bin_dir = tmp_path / "busybox-bin"
    bin_dir.mkdir()
    busybox = shutil.which("busybox")
    assert busybox
    for applet in (
        "base64",
        "sha256sum",
        "mv",
        "chmod",
        "rm",
        "mkdir",
        "sync",
        "cat",
        "stty",
        "ls",
    ):
        (bin_dir / applet).symlink_to(busybox)
    (bin_dir / "jq").symlink_to(shutil.which("jq"))
    return str(bin_dir)


@pytest.fixture(params=["sim", "bash", "busybox"])
def target(request, tmp_path: Path) -> Iterator[Target]:
    kind = request.param
    if kind == "sim":
        lab = load_lab(SIM_LAB, env={})
        board = SimBoard(lab.board("pi4-a")).start()
        transcript = tmp_path / "console.log"
        sh = open_shell(board.pty_path, username="root", transcript=str(transcript), name="pi4-a")
        fs = board.world.fs

        def read(rel: str) -> bytes | None:
            path = f"{BOOT}/{rel}"
            return fs.read(path) if fs.isfile(path) else None

        try:
            yield Target(
                kind,
                sh,
                BOOT,
                transcript,
                read=read,
                mode=lambda rel: fs.mode(f"{BOOT}/{rel}"),
                listing=lambda rel: (
                    fs.listdir(f"{BOOT}/{rel}") if fs.isdir(f"{BOOT}/{rel}") else []
                ),
                board=board,
            )
        finally:
            sh.close()
            board.stop()
        return
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TERM": "dumb", "LC_ALL": "C"}
    if kind == "bash":
        yield from _local_target(kind, tmp_path, "bash --norc --noprofile -i", env)
    else:
        env["PATH"] = _busybox_path(tmp_path) + ":" + env["PATH"]
        env["PS1"] = "# "
        yield from _local_target(kind, tmp_path, f"{shutil.which('busybox')} sh -i", env)


def _files() -> list[BootFile]:
    return [
        BootFile("system-connections/hil-wifi", WIFI, 0o600, secrets=(PSK,)),
        BootFile("system-connections/big conn", BIG, 0o600, secrets=(PSK,)),
        BootFile("system-proxy/no_proxy", b"10.0.0.0/8\n"),
        BootFile("dispatcher.d/10-hook", b"#!/bin/sh\nexit 0\n", 0o755),
        BootFile("system-connections/empty", b"", 0o600),
    ]


def _no_secret_in(transcript: Path, *contents: bytes) -> None:
    """Neither the secrets nor any readable encoding of the files is on the transcript."""
    logs = transcript.read_text() + transcript.with_suffix(".jsonl").read_text()
    assert PSK not in logs and API_KEY not in logs
    for data in contents:
        encoded = base64.b64encode(data).decode()
        for i in range(0, max(len(encoded) - 24, 1), 12):
            assert encoded[i : i + 24] not in logs, "base64 of a file is on the transcript"
        assert hashlib.sha256(data).hexdigest() not in logs


def test_files_land_whole_with_their_modes(target: Target) -> None:
    written = write_boot_files(target.shell, _files(), root=target.root)
    assert written[0] == f"{target.root}/system-connections/hil-wifi"
    for f in _files():
        assert target.read(f.path) == f.data, f.path
        assert target.mode(f.path) == f.mode, f.path
    # nothing left behind: no staging files, hidden or not
    assert target.listing("system-connections") == ["big conn", "empty", "hil-wifi"] + (
        ["resin-sample.ignore"] if target.kind == "sim" else []
    )
    assert target.listing("system-proxy") == ["no_proxy"]
    _no_secret_in(target.transcript, WIFI, BIG)
    assert "******" in target.transcript.read_text()  # masked, not absent: the commands ran


def test_chunks_fit_a_busybox_console_line(target: Target) -> None:
    commands = []
    real_run = target.shell.run

    def spy(command: str, timeout: float = 30.0):
        commands.append(command)
        return real_run(command, timeout)

    target.shell.run = spy  # type: ignore[method-assign]
    write_boot_files(target.shell, [BootFile("system-connections/big", BIG, 0o600)], target.root)
    uploads = [c for c in commands if c.startswith("printf '%s'")]
    assert len(uploads) >= 5
    assert max(len(c) for c in commands) <= 900
    sizes = sorted(len(c) for c in uploads)
    assert sizes[0] > sizes[-1] * 0.8  # near-equal chunks: no short tail to mask on its own
    assert target.read("system-connections/big") == BIG


def test_replacing_a_file(target: Target) -> None:
    write_boot_files(target.shell, [BootFile("system-proxy/no_proxy", b"old\n")], target.root)
    write_boot_files(target.shell, [BootFile("system-proxy/no_proxy", b"new\n")], target.root)
    assert target.read("system-proxy/no_proxy") == b"new\n"
    assert target.listing("system-proxy") == ["no_proxy"]


def test_config_json_is_merged_on_the_board(target: Target) -> None:
    existing = json.dumps({"deviceType": "raspberrypi4-64", "apiKey": API_KEY, "os": {"a": 1}})
    q = f"'{existing}'"
    target.shell.run(f"printf '%s\\n' {q} > {target.root}/config.json")
    target.transcript.write_text("")  # what follows is the writer's part only
    target.transcript.with_suffix(".jsonl").write_text("")
    patch = json.dumps({"country": "GB", "dnsServers": None, "os": {"b": {"c": PSK}}}).encode()
    write_boot_files(
        target.shell,
        [BootFile("config.json", patch, merge_json=True, secrets=(PSK,))],
        target.root,
    )
    merged = target.read("config.json")
    assert merged is not None
    assert json.loads(merged) == json.loads(merge_config_json(existing.encode(), patch, "x"))
    assert not [n for n in target.listing("") if n.startswith(".")]
    _no_secret_in(target.transcript, patch, existing.encode())


def test_config_json_created_when_the_board_has_none(target: Target) -> None:
    target.shell.run(f"rm -f {target.root}/config.json")
    write_boot_files(
        target.shell, [BootFile("config.json", b'{"country": "DE"}', merge_json=True)], target.root
    )
    assert json.loads(target.read("config.json") or b"") == {"country": "DE"}


def test_corruption_on_the_line_is_caught_and_nothing_changes(target: Target) -> None:
    write_boot_files(target.shell, [BootFile("system-connections/hil-wifi", b"v1\n")], target.root)

    class Garbling:
        """The console drops a character from every third upload line."""

        def __init__(self, inner: ShellSession) -> None:
            self.inner, self.name, self.n = inner, inner.name, 0

        def run(self, command: str, timeout: float = 30.0):
            if command.startswith("printf '%s'"):
                self.n += 1
                if self.n % 3 == 0:
                    command = (
                        command.replace("A", "B", 1)
                        if "A" in command
                        else command[:20] + command[21:]
                    )
            return self.inner.run(command, timeout)

    files = [
        BootFile("system-connections/other", WIFI, 0o600),
        BootFile("system-connections/hil-wifi", BIG, 0o600),
    ]
    with pytest.raises(BoardFileError, match=r"hil-wifi arrived corrupted .*left as it was"):
        BootFileWriter(Garbling(target.shell), target.root).write(files)
    assert target.read("system-connections/hil-wifi") == b"v1\n"
    assert target.read("system-connections/other") is None  # staged, verified, never renamed in
    assert [n for n in target.listing("system-connections") if n.startswith(".")] == []


def test_no_jq_means_a_clear_error_and_nothing_changes(target: Target) -> None:
    target.shell.run(f"printf '{{}}\\n' > {target.root}/config.json")
    if target.kind == "sim":
        from hil.sim.commands import COMMANDS

        jq = COMMANDS.pop("jq")
    else:
        target.shell.run("jq() { return 127; }")
    try:
        with pytest.raises(BoardFileError, match="no jq on the board"):
            write_boot_files(
                target.shell,
                [
                    BootFile("system-proxy/no_proxy", b"10.1.0.0/16\n"),
                    BootFile("config.json", b'{"country": "FR"}', merge_json=True),
                ],
                target.root,
            )
    finally:
        if target.kind == "sim":
            COMMANDS["jq"] = jq
    assert target.read("config.json") == b"{}\n"
    assert target.read("system-proxy/no_proxy") is None
    assert [n for n in target.listing("") if n.startswith(".")] == []


def test_a_missing_boot_mount_is_refused(target: Target) -> None:
    writer = BootFileWriter(target.shell, target.root + "/not-mounted")
    with pytest.raises(BoardFileError, match="not-mounted is not there"):
        writer.write([BootFile("system-proxy/no_proxy", b"x\n")])


def test_written_connection_reaches_networkmanager_after_reboot(tmp_path: Path) -> None:
    """The doc's path: boot partition → (reboot) → the overlay's system-connections."""
    lab = load_lab(SIM_LAB, env={})
    board = SimBoard(lab.board("pi3-b")).start()
    try:
        with open_shell(board.pty_path, name="pi3-b") as sh:
            write_boot_files(sh, [BootFile("system-connections/hil-wifi", WIFI, 0o600)])
            assert sh.run(f"ls {OVERLAY_CONNECTIONS}").output.split() == []
        board.reboot()
        with open_shell(board.pty_path, name="pi3-b") as sh:
            r = sh.run(f"ls {OVERLAY_CONNECTIONS}")
            assert "hil-wifi" in r.output.split()
    finally:
        board.stop()


def test_masking_is_temporary_and_keeps_real_secrets() -> None:
    from hil.lab.secrets import Redactor

    r = Redactor()
    r.add("lab-psk-value")
    with r.masking(["Y2h1bmstb25l", "lab-psk-value", "abc"]):
        assert r.redact("Y2h1bmstb25l lab-psk-value") == "****** ******"
    assert r.redact("Y2h1bmstb25l lab-psk-value") == "Y2h1bmstb25l ******"
