"""Parallel boards: 32 sim boards in one `hil run` against one board's run.

Goals (issue 11): wall time of 32 boards under 4x one board's on 2 cores
(workers per CPU, sim boards served by one process), and memory per additional
sim board under 30 MB. Both are measured here, in the same run, against a
baseline of one board.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SIM_LAB = REPO / "lab-config" / "sim.yaml"
HIL = [sys.executable, "-m", "hil.cli.main"]


def make_lab(n: int, where: Path) -> Path:
    base = yaml.safe_load(SIM_LAB.read_text())
    template = base["boards"][1]
    boards = []
    for i in range(n):
        b = yaml.safe_load(yaml.safe_dump(template))
        b["name"] = f"sim-{i:02d}"
        b["console"]["url"] = f"sim://sim-{i:02d}"
        b["sim"]["hostname"] = f"b{i:06x}"
        boards.append(b)
    path = where / f"lab-{n}.yaml"
    path.write_text(yaml.safe_dump({"name": f"bench-{n}", "boards": boards}))
    return path


def timed_run(lab: Path, tmp: Path) -> tuple[float, float]:
    """(wall time of the whole `hil run`, the test phase pytest reports)."""
    t0 = time.perf_counter()
    argv = [
        *HIL,
        "run",
        "--lab",
        str(lab),
        "--results",
        str(tmp / "r"),
        "--report",
        str(tmp / "rep"),
        "--",
        "-q",
    ]
    r = subprocess.run(argv, capture_output=True, text=True, cwd=tmp)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"run failed on {lab.name}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    m = re.search(r"passed in ([\d.]+)s", r.stdout)
    return elapsed, float(m.group(1)) if m else float("nan")


RSS_PROBE = """
import sys
from hil.console import open_shell
from hil.lab import load_lab
from hil.sim.server import SimServer
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
def exercise(server):
    for board in server.boards.values():  # booted, models in use, as in a run
        with open_shell(board.pty_path, name=board.name) as sh:
            sh.run('nmcli device; ip -j addr', timeout=20)
warm = SimServer(load_lab(sys.argv[2])).start()  # imports and first-use costs paid here
exercise(warm)
warm.stop()
before = rss()
server = SimServer(load_lab(sys.argv[1])).start()
exercise(server)
print(rss() - before)
server.stop()
"""


def served_rss(lab: Path, warm: Path) -> int:
    r = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(lab), str(warm)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(r.stdout.strip())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hil-bench-par-") as t:
        tmp = Path(t)
        one, many = make_lab(1, tmp), make_lab(32, tmp)
        (t1, p1), (t32, p32) = timed_run(one, tmp), timed_run(many, tmp)
        m1, m32 = served_rss(one, one), served_rss(many, one)
    per_board = (m32 - m1) / 31 / 2**20
    print(f"one board:  {t1:6.2f} s wall ({p1:.2f} s of tests)")
    print(f"32 boards:  {t32:6.2f} s wall ({p32:.2f} s of tests)")
    print(f"ratio, whole run (report included): {t32 / t1:.2f}x  (goal < 4x)")
    print(f"ratio, test phase only:             {p32 / p1:.2f}x")
    print(f"memory per additional sim board: {per_board:.2f} MB  (goal < 30 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
