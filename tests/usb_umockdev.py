"""Running code against umockdev testbeds of the recordings in fixtures/udev (helpers, not tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UDEV = REPO / "fixtures" / "udev"
HUB = UDEV / "pi4-usb-hub.umockdev"
PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:{}"
SYS_HUB = "/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb1/1-1"

needs_umockdev = pytest.mark.skipif(
    shutil.which("umockdev-run") is None, reason="umockdev is installed by scripts/setup.sh"
)


def umockdev_run(
    recordings: list[str], *cmd: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    """`umockdev-run -d REC... -- CMD`: CMD sees /sys as the recordings describe it."""
    args = ["umockdev-run"]
    for rec in recordings:
        args += ["-d", str(UDEV / rec)]
    return subprocess.run(
        [*args, "--", *cmd], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def python_under_testbed(code: str, timeout: float = 60) -> object:
    """Run Python under umockdev-wrapper (for the GI testbed: plug, unplug, events); the
    code prints one JSON document, which is returned."""
    r = subprocess.run(
        ["umockdev-wrapper", sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    assert r.returncode == 0, f"testbed script failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])
