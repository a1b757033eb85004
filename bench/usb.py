"""USB: udev event → `wait_for` returning, and `hil devices` on a bus of 200 modems.

Both run on umockdev testbeds (no USB hardware here), in a child process under
`umockdev-wrapper`. Baselines are measured in the same run on the same testbed:

- wait_for: a bare pyudev `Monitor.poll()` receiving the same final uevent —
  the delivery latency no waiting code can beat. Goal: under 50 ms.
- devices: 200 modems on a tree of hubs (~2,400 udev records). Baseline: plain
  pyudev enumerating the same subsystems (usb, tty, net, usbmisc) and reading
  each device's properties; floor: creating each listed device once through
  pyudev, reading nothing. Goal: under 0.3 s. umockdev's sysfs (every path
  redirected by a preload library) is several times slower than a kernel's, so
  the time is also split (pyudev part, sysfs listing, model) and the pyudev part
  re-measured per device on this machine's own /sys for an estimate on a kernel.
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
import json, statistics, sys, threading, time
import pyudev
from bench.usb import bus_recording, moved
from hil.usb.host import HostUsb
from hil.usb.testbed import Testbed, records_of

F = "fixtures/udev/"
BUS = sys.argv[1] == "bus"  # else the Pi's own hub and the one modem
CHAIN = "1.4.7.7" if BUS else "1.3"  # a free port of the bus's last hub
PORT = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:" + CHAIN
tb = Testbed()
tb.load(F + "pi4-usb-hub.umockdev")
if BUS:
    open("/tmp/hil-bench-usb-wait.umockdev", "w").write(bus_recording(199)[0])
    tb.load("/tmp/hil-bench-usb-wait.umockdev")
open("/tmp/hil-bench-usb-storage.umockdev", "w").write(
    moved(open(F + "e3372h-storage.umockdev").read(), CHAIN))
hilink = records_of(moved(open(F + "e3372h-hilink.umockdev").read(), CHAIN))
DEV = "/sys" + hilink[0].split("\n", 1)[0][3:]
SETTLE = 3.0 if BUS else 0.05  # long enough for the waiter to be back in poll()
host = HostUsb()
ours, floor = [], []
for _ in range(5 if BUS else 15):
    tb.plug("/tmp/hil-bench-usb-storage.umockdev")
    # the waiter: hil's wait_for, started while the modem is in storage mode
    done = {}
    def wait():
        host.wait_for(PORT, mode="modem", timeout=60)
        done["t"] = time.perf_counter()
    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(SETTLE)
    tb.unplug(DEV)
    for record in hilink[:-1]:
        tb.tb.add_from_string(record)
        time.sleep(0.005)
    time.sleep(SETTLE)  # the waiter has seen the partial device and waits again
    mon = pyudev.Monitor.from_netlink(pyudev.Context())
    mon.filter_by("usb")
    mon.start()
    tb.tb.add_from_string(hilink[-1])  # the last interface: the device is complete
    t0 = time.perf_counter()  # its uevent is on its way (sent at the end of the call)
    mon.poll(timeout=5)
    floor.append(time.perf_counter() - t0)
    del mon
    waiter.join(60)
    ours.append(done["t"] - t0)
    tb.present += ["/sys" + r.split("\n", 1)[0][3:] for r in hilink]
    tb.unplug(DEV)
print(json.dumps({"ours": statistics.median(ours), "max": max(ours),
                  "floor": statistics.median(floor)}))
"""


def moved(recording: str, chain: str) -> str:
    """A recording of a device at the Pi hub's port 1.3 (fixtures/udev), moved to the
    port `chain` (`1.4.7.7`: behind the bus's hubs), its eth1 renamed eth9 and its
    device node moved out of the bus's way (umockdev refuses two devices on one node)."""
    hubs = chain.split(".")
    path = "/".join("1-" + ".".join(hubs[: i + 1]) for i in range(1, len(hubs)))
    deeper = "../" * (len(hubs) - 2)  # driver links climb to /sys from a deeper directory
    return (
        recording.replace("L: driver=", "L: driver=" + deeper)
        .replace("1-1.3:", f"1-{chain}:")
        .replace("/1-1/1-1.3", f"/1-1/{path}")
        .replace("usb-0:1.3", f"usb-0:{chain}")
        .replace("devpath=1.3", f"devpath={chain}")
        .replace("eth1", "eth9")
        .replace("bus/usb/001/", "bus/usb/009/")  # a device node of its own
    )


DEVICES = r"""
import json, statistics, subprocess, sys, time
import pyudev
from bench.usb import bus_recording
from hil.usb.host import HostUsb, usb_sys_paths
from hil.usb.inventory import inventory
from hil.usb.model import UdevTree
from hil.usb.modeswitch import ModeswitchDb
from hil.usb.testbed import Testbed

MODEMS = 200
tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev")
text, records = bus_recording(MODEMS)
open("/tmp/hil-bench-usb-bus.umockdev", "w").write(text)
tb.load("/tmp/hil-bench-usb-bus.umockdev")
ctx = pyudev.Context()
db = ModeswitchDb.load()

def listed():  # B: the sysfs listing
    return usb_sys_paths(ctx.sys_path)

def read():  # A: pyudev devices and their properties as records
    return HostUsb(ctx).records()

def model(recs):  # C: the model, the inventory and its JSON
    rows = inventory(UdevTree(recs).usb_devices(), lambda: db)
    return json.dumps([r.as_json() for r in rows]), rows

def ours():  # what `hil devices --json` does once its modules are imported
    return model(read())

def baseline():  # plain pyudev: the subsystems' enumerators, every device's properties
    return sum(1 for sub in ("usb", "tty", "net", "usbmisc")
               for d in ctx.list_devices(subsystem=sub) if dict(d.properties))

paths = listed()
def floor():  # the least pyudev does: create each listed device once, read nothing
    for p in paths:
        pyudev.Devices.from_sys_path(ctx, p)

out, rows = ours()
modems = [r for r in rows if r.kind == "modem"]
assert len(modems) == MODEMS and all(len(r.device.ttys) == 5 or r.device.net for r in modems), out
recs = read()
t = {k: [] for k in ("ours", "baseline", "floor", "listing", "pyudev", "model")}
def timed(key, f, *a):
    t0 = time.perf_counter(); f(*a); t[key].append(time.perf_counter() - t0)
for _ in range(5):  # interleaved: a busy machine slows all of them alike
    timed("ours", ours); timed("baseline", baseline); timed("floor", floor)
    timed("listing", listed); timed("pyudev", read); timed("model", model, recs)
cmd = [sys.executable, "-m", "hil.cli.main", "devices", "--json"]
cli, start = [], []
for _ in range(3):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    cli.append(time.perf_counter() - t0)
    assert json.loads(r.stdout) == json.loads(out)  # the command sees the same bus
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    start.append(time.perf_counter() - t0)
m = {k: statistics.median(v) for k, v in t.items()}
m.update(modems=MODEMS, records=len(recs), usb_devices=sum(
    1 for r in recs if r.devtype == "usb_device"), cli=statistics.median(cli),
    python=statistics.median(start))
print(json.dumps(m))
"""


def bus_recording(modems: int) -> tuple[str, list]:
    """A Pi 4 with a tree of 7-port hubs full of Quectel EC25s (QMI: 4 ttys, a cdc-wdm,
    wwan0) and a few Huawei E3372h (NCM, eth) — the bus of `hil devices`' benchmark.
    udev's `ID_*` properties ride in the uevents, so each device carries as many
    properties as on a host where udev runs. Built with the sim's device records
    (`hil.sim.usb`, the same key sets as fixtures/udev's real recordings)."""
    from hil.sim.usb import PI4, PROFILES, Port, device_records
    from hil.usb.testbed import recording_of

    records: list = []
    devnum, tty = 3, 0

    def add(profile, port: str, ports=()) -> None:
        nonlocal devnum
        chain = port.split(".")
        names = ["1-" + ".".join(chain[: i + 1]) for i in range(len(chain))]
        path = PI4.controller + "/usb1/" + "/".join(names)
        id_path = PI4.id_path + "-usb-0:" + port
        records.extend(device_records(profile, path, id_path, devnum, ports, "1-" + port))
        devnum += 1

    ec25, e3372 = PROFILES["2c7c:0125"], PROFILES["12d1:14dc"]
    placed = 0
    extra = min(4, modems)  # E3372s on port 8 of the first hubs
    for a in range(1, 5):
        add(PI4.hub, f"1.{a}")
        for b in range(1, 8):
            if placed >= modems - extra:
                break
            add(PI4.hub, f"1.{a}.{b}")
            for c in range(1, 8):
                if placed >= modems - extra:
                    break
                ports = (
                    *(Port(i, "tty", f"ttyUSB{tty + i}") for i in range(4)),
                    Port(4, "wdm", f"cdc-wdm{placed}"),
                    Port(4, "net", f"wwan{placed}"),
                )
                tty += 4
                add(ec25, f"1.{a}.{b}.{c}", ports)
                placed += 1
    for d in range(1, extra + 1):
        add(e3372, f"1.{d}.8", (Port(0, "net", f"eth{d}"),))
    return recording_of(records, udev_properties=True), records


def _run(code: str, *args: str) -> dict:
    r = subprocess.run(
        ["umockdev-wrapper", sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    if r.returncode != 0:
        raise RuntimeError(f"bench child failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _real_sysfs_per_record() -> tuple[float, float, int]:
    """Per device on this machine's own /sys (a kernel's sysfs, no mock): hil's reading
    of a device into a record, and plain pyudev's enumeration with properties."""
    import time

    import pyudev

    from hil.usb.host import record_of

    ctx = pyudev.Context()
    paths = [d.sys_path for d in ctx.list_devices()]
    ours = base = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for path in paths:
            record_of(pyudev.Devices.from_sys_path(ctx, path))
        ours = min(ours, time.perf_counter() - t)
        t = time.perf_counter()
        n = sum(1 for d in ctx.list_devices() if dict(d.properties))
        base = min(base, time.perf_counter() - t)
    return ours / len(paths), base / max(n, 1), len(paths)


def _command_start() -> float:
    """What `hil devices` spends before it lists: python and the modules it imports."""
    import statistics
    import time

    code = "import hil.cli.main, hil.cli.devices_cmd, hil.usb.host, hil.usb.modeswitch"
    times = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    if shutil.which("umockdev-wrapper") is None:
        print("usb: umockdev is not installed (scripts/setup.sh installs it)")
        return 1
    for bus in ("hub", "bus"):
        w = _run(WAIT_FOR, bus)
        where = "one hub" if bus == "hub" else "the 200-modem bus below"
        print(
            f"usb.wait_for ({where}, umockdev): event → return {w['ours'] * 1000:.1f} ms "
            f"median (max {w['max'] * 1000:.1f} ms; goal < 50 ms); "
            f"bare Monitor.poll {w['floor'] * 1000:.2f} ms; "
            f"ratio {w['ours'] / w['floor']:.1f}x"
        )
    d = _run(DEVICES)
    n = d["records"]
    print(
        f"usb.devices (umockdev): {d['modems']} modems, {d['usb_devices']} USB devices, "
        f"{n} udev records listed in {d['ours']:.3f} s (goal < 0.3 s) = pyudev "
        f"{d['pyudev']:.3f} s (of which sysfs listing {d['listing'] * 1000:.1f} ms) "
        f"+ model/inventory/JSON {d['model'] * 1000:.1f} ms"
    )
    print(
        f"usb.devices (umockdev): baseline pyudev list_devices + properties "
        f"{d['baseline']:.3f} s → ratio {d['ours'] / d['baseline']:.2f}x; "
        f"floor: creating each device once, reading nothing, {d['floor']:.3f} s "
        f"→ ratio {d['ours'] / d['floor']:.2f}x (umockdev's preload redirects every "
        f"sysfs call; the floor is {d['floor'] / 0.3:.0%} of the goal)"
    )
    print(
        f"usb.devices (umockdev): `hil devices --json` as a command {d['cli']:.3f} s "
        f"(python startup {d['python']:.3f} s, imports, the listing)"
    )
    per, base, count = _real_sysfs_per_record()
    pyudev_real = per * n
    estimate = pyudev_real + d["listing"] + d["model"]
    start = _command_start()
    print(
        f"usb.devices on a kernel sysfs (estimate): this machine's {count} devices read at "
        f"{per * 1e6:.0f} µs each (plain pyudev {base * 1e6:.0f} µs, ratio "
        f"{per / base:.2f}x) → {n} records {pyudev_real:.3f} s + listing and model "
        f"(as measured under umockdev) ≈ {estimate:.3f} s in-process (goal < 0.3 s); "
        f"as a command + {start:.3f} s (python and the modules `hil devices` imports) "
        f"≈ {estimate + start:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
