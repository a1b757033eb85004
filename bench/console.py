"""Console benchmark: `hil.console` against labgrid's SerialDriver + ShellDriver.

(1) Unpaced, on the same real bash behind a pty (socat runs it, as a getty
    would), in the same run: mean latency of 200 short commands (`echo
    hello`), and wall time and CPU time for 2 MiB of output (`seq 1 315000`). Goals: at most
    0.3x labgrid's latency and 0.1x its time for the bulk output.
(2) Paced: through a relay that throttles the line to 115200 baud (10 bits a
    byte, both ways): time for 200 KB of output (`seq 1 35200`). Goal: within 1.2x the time
    the bytes take on the wire.

labgrid runs in a venv of its own (`out/bench-venv-labgrid`, created on first
use: it pins its own pyserial fork). The board's shell keeps its files in
/dev/shm, as a balenaOS board keeps /tmp in RAM.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from hil.console import open_shell

REPO = Path(__file__).resolve().parent.parent
LABGRID_VENV = REPO / "out" / "bench-venv-labgrid"
COMMANDS = 200
#: `seq 1 N` prints these many lines: 2 MiB and 200 KB (2,093,895 and 200,094 bytes)
BULK_LINES = 315000
PACED_LINES = 35200
BAUD = 115200
PROMPT = "root@rig:~# "


def bulk_command(lines: int) -> str:
    return f"seq 1 {lines}"


def expected_bulk(lines: int) -> bytes:
    return "".join(f"{i}\n" for i in range(1, lines + 1)).encode()


@contextlib.contextmanager
def socat_bash() -> Iterator[str]:
    """A real interactive bash on a pty, its console on another pty (socat relays in C)."""
    workdir = Path(tempfile.mkdtemp(prefix="hil-bench-", dir="/dev/shm"))
    link = workdir / "tty"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PS1": PROMPT,
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "TERM": "vt100",
        "LANG": "C.UTF-8",
    }
    proc = subprocess.Popen(
        [
            "socat",
            f"PTY,link={link},raw,echo=0",
            "EXEC:bash --norc --noprofile -i,pty,setsid,ctty,stderr,sigint",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not link.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("socat did not create the pty")
            time.sleep(0.01)
        yield str(link)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def paced_rig(baud: int) -> Iterator[str]:
    """The console test rig in a process of its own, its line paced at `baud`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.console_rig", "--baud", str(baud)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


# -- ours ------------------------------------------------------------------------
def measure_hil(tty: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        log = str(Path(tmp) / "console.log")
        with open_shell(tty, transcript=log, timeout=20, quiet_kernel=False) as sh:
            sh.run("echo warm-up", timeout=10)
            t0 = time.perf_counter()
            for _ in range(COMMANDS):
                r = sh.run("echo hello", timeout=10)
                assert r.output == "hello\n", r
            latency = (time.perf_counter() - t0) / COMMANDS
            t0, c0 = time.perf_counter(), time.process_time()
            r = sh.run(bulk_command(BULK_LINES), timeout=120)
            bulk, bulk_cpu = time.perf_counter() - t0, time.process_time() - c0
            assert r.output_bytes == expected_bulk(BULK_LINES), "bulk output differs"
    return {"latency": latency, "bulk": bulk, "bulk_cpu": bulk_cpu}


def measure_hil_paced() -> dict[str, float]:
    with paced_rig(BAUD) as tty, open_shell(tty, timeout=30, quiet_kernel=False) as sh:
        sh.run("true", timeout=30)
        t0 = time.perf_counter()
        r = sh.run(bulk_command(PACED_LINES), timeout=120)
        elapsed = time.perf_counter() - t0
        assert r.output_bytes == expected_bulk(PACED_LINES), "paced output differs"
    return {"paced": elapsed, "wire": len(r.output_bytes) * 10 / BAUD}


# -- labgrid -----------------------------------------------------------------------
LABGRID_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from labgrid import Target
    from labgrid.resource import RawSerialPort
    from labgrid.driver import SerialDriver, ShellDriver

    tty, n, bulk = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t = Target("bench")
    RawSerialPort(t, name=None, port=tty, speed=115200)
    SerialDriver(t, name=None)
    # bash 5.2 puts ESC[?2004h before its prompt (bracketed paste): allow it
    sh = ShellDriver(t, name=None, prompt=r"(?:\\x1b\\[\\?2004h)?root@rig:~# ",
                     login_prompt=r"login: ", username="root", login_timeout=20)
    t.activate(sh)
    sh.run("echo warm-up")
    t0 = time.perf_counter()
    for _ in range(n):
        sh.run("echo hello")
    latency = (time.perf_counter() - t0) / n
    t0, c0 = time.perf_counter(), time.process_time()
    out, _, code = sh.run(bulk, timeout=300)
    print(json.dumps({"latency": latency, "bulk": time.perf_counter() - t0,
                      "bulk_cpu": time.process_time() - c0, "lines": len(out)}))
    """
)


def labgrid_python() -> Path:
    """The labgrid venv's python, creating the venv on first use."""
    python = LABGRID_VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"bench: creating {LABGRID_VENV.relative_to(REPO)} (pip install labgrid)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LABGRID_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "labgrid"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return python


def measure_labgrid(tty: str, python: Path) -> dict[str, float]:
    proc = subprocess.run(
        [str(python), "-c", LABGRID_SCRIPT, tty, str(COMMANDS), bulk_command(BULK_LINES)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report ------------------------------------------------------------------------
def main() -> int:
    with socat_bash() as tty:
        ours = measure_hil(tty)
    print(
        f"hil.console  latency {ours['latency'] * 1e3:7.3f} ms/command   "
        f"2 MiB: {ours['bulk']:6.3f} s wall, {ours['bulk_cpu']:6.3f} s CPU"
    )
    try:
        python = labgrid_python()
        with socat_bash() as tty:
            lg = measure_labgrid(tty, python)
    except (subprocess.SubprocessError, RuntimeError, OSError) as e:
        print(f"labgrid      unavailable ({e}): no ratios for (1)")
        lg = None
    if lg is not None:
        print(
            f"labgrid      latency {lg['latency'] * 1e3:7.3f} ms/command   "
            f"2 MiB: {lg['bulk']:6.3f} s wall, {lg['bulk_cpu']:6.3f} s CPU"
        )
        lat, bulk = ours["latency"] / lg["latency"], ours["bulk"] / lg["bulk"]
        cpu = ours["bulk_cpu"] / lg["bulk_cpu"]
        print(f"ratio        latency {lat:.3f}x (goal <= 0.3x) {_verdict(lat <= 0.3)}")
        print(f"ratio        2 MiB   {bulk:.3f}x (goal <= 0.1x) {_verdict(bulk <= 0.1)}")
        print(f"ratio        2 MiB CPU {cpu:.3f}x")
    paced = measure_hil_paced()
    ratio = paced["paced"] / paced["wire"]
    print(
        f"paced        200 KB at {BAUD} baud: {paced['paced']:.2f} s, wire time "
        f"{paced['wire']:.2f} s, ratio {ratio:.3f}x (goal <= 1.2x) {_verdict(ratio <= 1.2)}"
    )
    return 0


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
