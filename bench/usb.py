"""USB: udev event → `wait_for` returning, and `hil devices` on a bus of 200 modems.

Both run on umockdev testbeds (no USB hardware here), in a child process under
`umockdev-wrapper`. Baselines are measured in the same run on the same testbed:

- wait_for: a bare pyudev `Monitor.poll()` receiving the same final uevent —
  the delivery latency no waiting code can beat. Goal: under 50 ms.
- devices: pyudev enumerating the same subsystems (usb, tty, net, usbmisc) and
  reading each device's properties — the floor for any discovery through
  pyudev. Goal: under 0.3 s. umockdev's sysfs (every path redirected by a
  preload library) is far slower than a kernel's: the ratio is hil's own cost.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WAIT_FOR = r"""
import json, statistics, threading, time
import pyudev
from hil.usb.host import HostUsb
from hil.usb.testbed import Testbed, records_of

F = "fixtures/udev/"
PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3"
DEV = ("/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0"
       "/usb1/1-1/1-1.3")
tb = Testbed()
tb.load(F + "pi4-usb-hub.umockdev")
hilink = records_of(open(F + "e3372h-hilink.umockdev").read())
host = HostUsb()
ours, floor = [], []
for _ in range(15):
    tb.plug(F + "e3372h-storage.umockdev")
    # the waiter: hil's wait_for, started while the modem is in storage mode
    done = {}
    def wait():
        host.wait_for(PORT, mode="modem", timeout=10)
        done["t"] = time.perf_counter()
    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    tb.unplug(DEV)
    for record in hilink[:-1]:
        tb.tb.add_from_string(record)
        time.sleep(0.005)
    time.sleep(0.05)  # the waiter has seen the partial device and waits again
    mon = pyudev.Monitor.from_netlink(pyudev.Context())
    mon.filter_by("usb")
    mon.start()
    tb.tb.add_from_string(hilink[-1])  # the last interface: the device is complete
    t0 = time.perf_counter()  # its uevent is on its way (sent at the end of the call)
    mon.poll(timeout=5)
    floor.append(time.perf_counter() - t0)
    del mon
    waiter.join(10)
    ours.append(done["t"] - t0)
    tb.present += ["/sys" + r.split("\n", 1)[0][3:] for r in hilink]
    tb.unplug(DEV)
print(json.dumps({"ours": statistics.median(ours), "max": max(ours),
                  "floor": statistics.median(floor)}))
"""

DEVICES = r"""
import json, statistics, time
import pyudev
from hil.sim.usb import PROFILES, PI4, Port, device_records
from hil.usb.host import HostUsb
from hil.usb.inventory import inventory
from hil.usb.modeswitch import ModeswitchDb
from hil.usb.testbed import Testbed, recording_of

# a tree of 7-port hubs under the Pi's hub: 4 x 7 hubs, 7 modems each (196) + 4 more
tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev")
root = PI4.controller + "/usb1/1-1"
records, devnum, tty = [], 3, 0
def add(profile, port, ports=()):
    global devnum
    chain = port.split(".")
    names = ["1-" + ".".join(chain[: i + 1]) for i in range(len(chain))]
    path = PI4.controller + "/usb1/" + "/".join(names)
    id_path = PI4.id_path + "-usb-0:" + port
    records.extend(device_records(profile, path, id_path, devnum, ports, "1-" + port))
    devnum += 1
modems = 0
for a in range(1, 5):
    add(PI4.hub, f"1.{a}")
    for b in range(1, 8):
        add(PI4.hub, f"1.{a}.{b}")
        for c in range(1, 8):
            ec25 = PROFILES["2c7c:0125"]
            ports = tuple(Port(i, "tty", f"ttyUSB{tty + i}") for i in range(4)) + (
                Port(4, "wdm", f"cdc-wdm{modems}"), Port(4, "net", f"wwan{modems}"))
            tty += 4
            add(ec25, f"1.{a}.{b}.{c}", ports)
            modems += 1
for d in range(1, 5):
    add(PROFILES["12d1:14dc"], f"1.{d}.8", (Port(0, "net", f"eth{d}"),))
    modems += 1
open("/tmp/hil-bench-200.umockdev", "w").write(recording_of(records))
tb.load("/tmp/hil-bench-200.umockdev")
db = ModeswitchDb.load()

def ours():
    rows = inventory(HostUsb().devices(), lambda: db)
    json.dumps([r.as_json() for r in rows])
    return len(rows)

def floor():
    ctx = pyudev.Context()
    return sum(
        1
        for sub in ("usb", "tty", "net", "usbmisc")
        for d in ctx.list_devices(subsystem=sub)
        if dict(d.properties)
    )

n = ours()
ours_t, floor_t = [], []
for _ in range(3):
    t = time.perf_counter(); ours(); ours_t.append(time.perf_counter() - t)
    t = time.perf_counter(); floor(); floor_t.append(time.perf_counter() - t)
print(json.dumps({"modems": n, "records": len(records), "ours": statistics.median(ours_t),
                  "floor": statistics.median(floor_t)}))
"""


def _run(code: str) -> dict:
    r = subprocess.run(
        ["umockdev-wrapper", sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    if r.returncode != 0:
        raise RuntimeError(f"bench child failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _real_sysfs_per_record() -> tuple[float, int]:
    """pyudev's cost per device on this machine's own /sys (a kernel's sysfs, no mock)."""
    import time

    import pyudev

    ctx = pyudev.Context()
    best = float("inf")
    n = 0
    for _ in range(3):
        t = time.perf_counter()
        n = sum(1 for d in ctx.list_devices() if dict(d.properties))
        best = min(best, time.perf_counter() - t)
    return best / max(n, 1), n


def main() -> int:
    if shutil.which("umockdev-wrapper") is None:
        print("usb: umockdev is not installed (scripts/setup.sh installs it)")
        return 1
    w = _run(WAIT_FOR)
    print(
        f"usb.wait_for: event → return {w['ours'] * 1000:.1f} ms median "
        f"(max {w['max'] * 1000:.1f} ms; goal < 50 ms); "
        f"bare Monitor.poll {w['floor'] * 1000:.2f} ms; "
        f"ratio {w['ours'] / w['floor']:.1f}x"
    )
    d = _run(DEVICES)
    print(
        f"usb.devices: {d['modems']} modems ({d['records']} udev records) listed in "
        f"{d['ours']:.3f} s (goal < 0.3 s); bare pyudev enumeration {d['floor']:.3f} s; "
        f"ratio {d['ours'] / d['floor']:.2f}x"
    )
    per, n = _real_sysfs_per_record()
    estimate = per * d["records"] * d["ours"] / d["floor"]
    print(
        f"usb.devices on a kernel sysfs (estimate): pyudev reads this machine's {n} devices at "
        f"{per * 1e6:.0f} µs each → {d['records']} records x {d['ours'] / d['floor']:.2f} "
        f"≈ {estimate:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
