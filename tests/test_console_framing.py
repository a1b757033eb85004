"""The console's pieces without a shell: frames and their checks, the stream, the transcript."""

from __future__ import annotations

import hashlib
import json
import os
import select
import threading
import time
import tty

import pytest
import serial

from hil.console.errors import NoShell
from hil.console.framing import (
    MAX_LINE_BYTES,
    Marker,
    check_lines,
    parse_trailer,
    reconstruct,
)
from hil.console.login import SEARCH_WINDOW, ShellFinder, StreamSpawn
from hil.console.stream import PortStream
from hil.console.transcript import Transcript, read_commands
from hil.lab.secrets import REDACTOR


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_marker_is_typed_split_so_its_echo_never_matches() -> None:
    m = Marker.new()
    assert m.text not in m.typed
    assert m.typed.replace("'", "") == m.text
    assert Marker.new().text != m.text


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b" s0 s0 len 3 ", 0, "len"),
        (b" s127 s127 md5 " + md5(b"x").encode() + b"  - ", 127, "md5"),
        (b" s s len 0 ", None, "len"),  # interrupted
        (b" s- s- wc       12 ", None, "wc"),  # never ran
    ],
)
def test_trailer_parses(body: bytes, status: int | None, kind: str) -> None:
    t = parse_trailer(body)
    assert t is not None and t.status == status and t.kind == kind


@pytest.mark.parametrize(
    "body",
    [
        b" s1 s12 len 3 ",  # a digit lost from one copy of the status
        b" s0 s0 len 3x ",
        b" s0 s0 md5 0123 ",
        b" s0 s0 lem 3 ",
        b" s0s0 len 3 ",
    ],
)
def test_damaged_trailer_is_refused(body: bytes) -> None:
    assert parse_trailer(body) is None


def trailer(data: bytes, kind: str = "md5"):
    digest = md5(data) if kind == "md5" else str(len(data))
    return parse_trailer(f" s0 s0 {kind} {digest} ".encode())


def test_onlcr_is_undone_exactly() -> None:
    out = b"a\r\nb\n\rc\n"  # a command that itself prints CR-LF and a lone CR
    wire = out.replace(b"\n", b"\r\n") + b"\r"  # ONLCR, and the frame's own CR before END
    assert reconstruct(wire, [], trailer(out))[0] == out
    assert reconstruct(wire, [], trailer(out, "len"))[0] == out
    assert reconstruct(out, [], trailer(out))[0] == out  # a line with ONLCR off


def test_lost_byte_fails_the_check() -> None:
    out = b"hello world\n"
    assert reconstruct(b"hello wrld\n", [], trailer(out)) is None
    assert reconstruct(b"hello wrld\n", [], trailer(out, "len")) is None


NOISE = b"[   12.345678] usb 1-1: USB disconnect, device number 4\r\n"
DMESG = b"[    1.000000] usb 1-1: new high-speed USB device\n"


def test_kernel_noise_is_left_out() -> None:
    out = b"first line\nsecond line\n"
    region = b"first li" + b"ne\nsecond line\n"
    r = reconstruct(region, [(8, NOISE)], trailer(out))
    assert r == (out, frozenset())


def test_real_dmesg_lines_are_put_back() -> None:
    out = b"x\n" + DMESG + b"y\n"
    region = b"x\ny\n"
    r = reconstruct(region, [(2, DMESG)], trailer(out))
    assert r == (out, {0})


def test_dmesg_lines_and_noise_together() -> None:
    out = DMESG + b"ok\n" + DMESG
    region = b"ok\n"
    cuts = [(0, DMESG), (1, NOISE), (3, DMESG)]
    assert reconstruct(region, cuts, trailer(out)) == (out, {0, 2})


def test_a_byte_count_never_decides_about_kernel_lines() -> None:
    out = b"x\n" + DMESG
    assert reconstruct(b"x\n", [(2, DMESG)], trailer(out, "len")) is None


def test_commands_the_tty_would_mangle_are_refused() -> None:
    with pytest.raises(ValueError, match="control"):
        check_lines("echo a\x03b", None)
    with pytest.raises(ValueError, match="truncates"):
        check_lines("echo " + "x" * MAX_LINE_BYTES, None)
    check_lines("echo " + "x" * 100 + "\necho y", None)


# -- the stream ----------------------------------------------------------------


@pytest.fixture
def line(tmp_path):
    """A pty: the test writes as a board would, a PortStream reads the other end."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = serial.serial_for_url(os.ttyname(slave), timeout=0)
    os.close(slave)
    log = Transcript(tmp_path / "console.log", board="b1")
    stream = PortStream(port, log)
    yield master, stream, log
    stream.close()
    port.close()
    log.close()
    os.close(master)


def read_until(stream: PortStream, needle: bytes, timeout: float = 3) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        assert time.monotonic() < deadline, buf
        buf += stream.read(65536, 0.1)
    return buf


def test_stream_cuts_kernel_lines_anywhere_and_remembers_where(line) -> None:
    master, stream, _ = line
    start = stream.position
    os.write(master, b"mark" + NOISE + b"er\r\nroot@b1:~# ")
    seen = read_until(stream, b"# ")
    assert seen == b"marker\r\nroot@b1:~# "
    (cut,) = stream.cuts(start)
    assert cut.offset == start + 4 and cut.data == NOISE


def test_stream_cuts_a_kernel_line_split_across_reads(line) -> None:
    master, stream, _ = line
    os.write(master, b"ab" + NOISE[:9])
    time.sleep(0.05)
    os.write(master, NOISE[9:] + b"cd\n")
    assert read_until(stream, b"cd\n") == b"abcd\n"


def test_stream_releases_a_tail_that_only_looked_like_a_kernel_line(line) -> None:
    master, stream, _ = line
    os.write(master, b"array[12")
    assert read_until(stream, b"[12", timeout=2) == b"array[12"


def test_transcript_has_everything_timestamped_and_redacted(line, tmp_path) -> None:
    master, stream, log = line
    REDACTOR.add("s3cret-psk-value")
    try:
        os.write(master, b"boot\r\n" + NOISE + b"psk=s3cret-psk-value\r\n\x1b[?2004hroot# ")
        read_until(stream, b"root# ")
        stream.write(b"hunter22\r", secret=True)
        stream.write(b"echo s3cret-psk-value\r")
        log.record(command="echo s3cret-psk-value", output="s3cret-psk-value\n")
        log.close()
    finally:
        REDACTOR.clear()
    text = (tmp_path / "console.log").read_text()
    assert "s3cret" not in text and "hunter22" not in text
    assert "usb 1-1: USB disconnect" in text  # kernel messages stay in the transcript
    assert "\\x1b[?2004hroot# " in text  # controls escaped, the prompt kept
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert all(ln[:12].count(":") == 2 and ln[12] == " " for ln in lines), lines
    assert any(ln.endswith("> ******") for ln in lines)
    (entry,) = read_commands(tmp_path / "console.jsonl")
    assert entry["command"] == "echo ******" and "s3cret" not in json.dumps(entry)


def test_stream_reports_a_lost_port(line) -> None:
    master, stream, _ = line
    os.close(master)
    with pytest.raises(EOFError):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            stream.read(1, 0.1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), master)  # let the fixture close something


def test_noise_inside_a_dmesg_line_is_told_apart(line) -> None:
    master, stream, _ = line
    start = stream.position
    os.write(master, DMESG[:18] + NOISE + DMESG[18:] + b"$ ")
    seen = read_until(stream, b"$ ")
    assert [c.data for c in stream.cuts(start)] == [NOISE]
    assert seen == DMESG + b"$ "


def test_a_login_prompt_after_a_long_boot_log_is_answered(line) -> None:
    """Prompts are looked for in the line's tail only (login.SEARCH_WINDOW): one that
    follows a boot log many windows long is still found, and answered once."""
    master, stream, _ = line
    boot = b"".join(b"[  OK  ] Started service %d.\r\n" % i for i in range(10000))  # 300 KB
    assert len(boot) > 100 * SEARCH_WINDOW
    writer = threading.Thread(
        target=lambda: [os.write(master, boot[i : i + 512]) for i in range(0, len(boot), 512)]
        + [os.write(master, b"Login incorrect\r\n\r\nboard login: ")]
    )
    writer.start()
    finder = ShellFinder(
        StreamSpawn(stream), name="b1", username="root", password="x", note=lambda _: None
    )
    with pytest.raises(NoShell, match="met: incorrect, login"):
        finder.run(timeout=4)  # nothing answers the login: the finder gives up in time
    writer.join()
    typed = b""
    while select.select([master], [], [], 0)[0]:
        typed += os.read(master, 4096)
    assert typed.startswith(b"root\r")  # the username, sent once, before any nudge
