"""USB: udev event → `wait_for` returning, and `hil devices` on a bus of 200 modems.

Both run on umockdev testbeds (no USB hardware here), in a child process under
`umockdev-wrapper`; every sysfs call then goes through umockdev's preload
library (a path component costs ~7 system calls instead of ~3). The machine is
shared: each figure is a median of repeated runs, CPU time is given beside wall
time (it does not grow with the load), and the load average is printed.

- wait_for, goal under 50 ms from the event: a thread blocks in hil's
  `wait_for(usb_path, mode="modem")` while a modem switches (storage mode
  unplugged; the modem and its interfaces added, drivers not bound yet); once
  the thread is back in `poll()`, the modem driver binds (its sysfs written,
  then the `bind` uevent sent, as the kernel does after probing). Time from
  just before that uevent is sent to `wait_for` returning, over many
  switches: median, p95, max. Baseline: a bare pyudev `Monitor.poll()`
  receiving the same uevent (delivery alone, which no waiting code can beat).
  On one hub, and on the 200-modem bus.
- devices, goal under 0.3 s: `hil devices --json` run as a lab engineer runs it
  (the installed `hil` script, a fresh process: interpreter start, imports, the
  listing, the JSON) on 200 modems on a tree of hubs (234 USB devices, ~2,400
  udev records: 4 ttys, a cdc-wdm and wwan0 per EC25). Baseline: the same
  listing done the plain pyudev way — a script that enumerates the subsystems
  (usb, tty, net, usbmisc) with `Context.list_devices` and reads each device's
  properties — also run as a command. In-process parts are split out (sysfs
  listing, records, model) with the floor of building each listed device once
  through pyudev, and the command's fixed cost is measured outside umockdev
  (this machine's own /sys has no USB bus).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HIL = Path(sys.executable).parent / "hil"  # the console script pip installed beside python

WAIT_FOR = r"""
import json, os, statistics, sys, threading, time
import pyudev
from bench.usb import bus_recording, moved
from hil.usb.host import HostUsb
from hil.usb.testbed import Testbed, records_of

F = "fixtures/udev/"
BUS = sys.argv[1] == "bus"  # else the Pi's own hub and the one modem
EVENTS = int(sys.argv[2])
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
POLL = {"7", "271"}  # poll, ppoll (x86-64): the waiter blocks in the monitor's poll()


def in_poll(tid):
    try:
        call = open(f"/proc/self/task/{tid}/syscall").read().split()[0]
        state = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return state == "S" and call in POLL


def idle(thread):
    # back in poll() twice, 5 ms apart: it has handled every event so far
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        first = in_poll(thread.native_id)
        if first is None:  # no /proc/PID/task/TID/syscall here: give it time instead
            time.sleep(1.0)
            return
        if first:
            time.sleep(0.005)
            if in_poll(thread.native_id):
                return
        time.sleep(0.002)
    raise RuntimeError("the waiter never went back to poll()")


def unbound(record):  # an interface as the kernel adds it: its driver binds after
    return "\n".join(line for line in record.split("\n")
                     if not line.startswith(("E: DRIVER=", "L: driver="))) + "\n"


def path_of(record):
    return "/sys" + record.split("\n", 1)[0][3:]


device, *rest = hilink
ports = [r for r in rest if "E: SUBSYSTEM=net" in r]
interfaces = [r for r in rest if r not in ports]
BIND = path_of(interfaces[0])  # its driver (cdc_ether) binds last: the device is a modem
def schedstat(task):  # [ns on a CPU, ns runnable but waiting for one] (the scheduler's)
    try:
        return [int(x) for x in open(f"/proc/{task}/schedstat").read().split()[:2]]
    except (OSError, ValueError):
        return None


host = HostUsb()
ours, floor, cpu, queued, worst = [], [], [], [], []
for _ in range(EVENTS):
    tb.plug("/tmp/hil-bench-usb-storage.umockdev")
    done = {}
    def wait():
        host.wait_for(PORT, mode="modem", timeout=60)
        done["t"] = time.perf_counter()
        done["cpu"] = time.thread_time()
        done["s"] = schedstat("thread-self")
    waiter = threading.Thread(target=wait)
    waiter.start()  # hil's wait_for, started while the modem is in storage mode
    idle(waiter)
    tb.unplug(DEV)  # the switch: storage mode leaves, the modem's records come
    for record in [device, *map(unbound, interfaces)]:
        tb.tb.add_from_string(record)
        tb.present.append(path_of(record))
        time.sleep(0.005)
    idle(waiter)  # it has seen the device without drivers and waits again
    mon = pyudev.Monitor.from_netlink(pyudev.Context())
    mon.filter_by("usb")
    mon.start()
    tb.tb.set_property(BIND, "DRIVER", "cdc_ether")
    before = schedstat(f"self/task/{waiter.native_id}")
    before_cpu = time.clock_gettime(time.pthread_getcpuclockid(waiter.ident))
    t0 = time.perf_counter()
    tb.uevent(BIND, "bind")  # the event: the modem driver binds
    mon.poll(timeout=5)
    floor.append(time.perf_counter() - t0)
    del mon
    waiter.join(60)
    ours.append(done["t"] - t0)
    if before and done["s"]:  # the waiter's CPU time and run-queue wait for this event
        cpu.append(done["cpu"] - before_cpu)
        queued.append((done["s"][1] - before[1]) / 1e9)
        worst.append((ours[-1], cpu[-1], queued[-1]))
    for record in ports:  # its network interface follows
        tb.tb.add_from_string(record)
        tb.present.append(path_of(record))
    tb.unplug(DEV)
ours.sort()
print(json.dumps({"median": statistics.median(ours), "p95": ours[int(0.95 * (len(ours) - 1))],
                  "max": ours[-1], "events": len(ours), "floor": statistics.median(floor),
                  "cpu": statistics.median(cpu) if cpu else None,
                  "queued": statistics.median(queued) if queued else None,
                  "worst": max(worst) if worst else None, "load": os.getloadavg()[0]}))
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
import json, os, resource, statistics, subprocess, sys, time
import pyudev
from bench.usb import BASELINE, bus_recording
from hil.usb.host import HostUsb, usb_sys_paths
from hil.usb.inventory import inventory
from hil.usb.model import UdevTree
from hil.usb.testbed import Testbed

MODEMS = 200
HIL = sys.argv[1]
tb = Testbed()
tb.load("fixtures/udev/pi4-usb-hub.umockdev")
text, records = bus_recording(MODEMS)
open("/tmp/hil-bench-usb-bus.umockdev", "w").write(text)
tb.load("/tmp/hil-bench-usb-bus.umockdev")
ctx = pyudev.Context()


def listed():  # the sysfs listing
    return usb_sys_paths(ctx.sys_path)


def read():  # the records: USB devices through pyudev, interfaces and ports from uevent
    return HostUsb(ctx).records()


def model(recs):  # the model, the inventory and its JSON
    rows = inventory(UdevTree(recs).usb_devices(), None)
    return json.dumps([r.as_json() for r in rows])


paths = listed()
def floor():  # building each listed device once through pyudev, reading nothing
    for p in paths:
        pyudev.Devices.from_sys_path(ctx, p)


t = {k: [] for k in ("listing", "read", "model", "floor")}
def timed(key, f, *a):
    c = time.process_time()
    f(*a)
    t[key].append(time.process_time() - c)
for _ in range(5):
    timed("listing", listed); timed("read", read); timed("model", lambda: model(read()))
    timed("floor", floor)
recs = read()


# as on a lab host, Python caches the bytecode it compiles (a sandbox may forbid it);
# the testbed's directory is set in the C environment, which os.environ does not see
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["UMOCKDEV_DIR"] = tb.tb.get_root_dir()


def command(cmd, runs):
    subprocess.run(cmd, capture_output=True, check=True, env=ENV)  # a first run caches it
    wall, cpu, out = [], [], None
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, check=True, env=ENV)
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
        out = r.stdout
    return {"wall": statistics.median(wall), "min": min(wall), "cpu": statistics.median(cpu)}, out


load = [os.getloadavg()[0]]
hil, out = command([HIL, "devices", "--json"], 9)
rows = json.loads(out)
assert len(rows) == MODEMS and all(r["kind"] == "modem" for r in rows), out[:2000]
assert all(len(r["ttys"]) == 5 or r["net"] for r in rows), out[:2000]
base, base_out = command([sys.executable, "-c", BASELINE], 3)
python, _ = command([sys.executable, "-c", "pass"], 9)
load.append(os.getloadavg()[0])
m = {k: statistics.median(v) for k, v in t.items()}
m.update(modems=MODEMS, records=len(recs), usb_devices=sum(
    1 for r in recs if r.devtype == "usb_device"), hil=hil, baseline=base,
    baseline_devices=int(base_out), python=python, load=max(load))
print(json.dumps(m))
"""

#: the plain pyudev way to list what `hil devices` lists (the baseline, run as a command)
BASELINE = """
import json, pyudev
ctx = pyudev.Context()
devices = [dict(d.properties) for sub in ("usb", "tty", "net", "usbmisc")
           for d in ctx.list_devices(subsystem=sub)]
json.dumps(devices)
print(len(devices))
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
        timeout=1200,
        cwd=REPO,
    )
    if r.returncode != 0:
        raise RuntimeError(f"bench child failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _fixed_cost() -> dict:
    """`hil devices --json` outside umockdev: this machine's /sys has no USB bus, so this
    is the command's fixed cost (interpreter, imports, an empty listing) on a kernel."""
    import resource
    import statistics
    import time

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall, cpu = [], []
    for _ in range(9):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([str(HIL), "devices", "--json"], capture_output=True, check=True, env=env)
        wall.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    if shutil.which("umockdev-wrapper") is None:
        print("usb: umockdev is not installed (scripts/setup.sh installs it)")
        return 1
    print(f"usb: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start")
    for bus, events in (("hub", 40), ("bus", 40)):
        w = _run(WAIT_FOR, bus, str(events))
        where = "one hub" if bus == "hub" else "the 200-modem bus"
        print(
            f"usb.wait_for ({where}, umockdev, {w['events']} switches): event → return "
            f"median {_ms(w['median'])}, p95 {_ms(w['p95'])}, max {_ms(w['max'])} "
            f"(goal < 50 ms); baseline: bare Monitor.poll receiving the same uevent "
            f"{_ms(w['floor'])} median → ratio {w['median'] / w['floor']:.1f}x "
            f"(load {w['load']:.1f})"
        )
        if w["cpu"] is not None:
            slow, slow_cpu, slow_queued = w["worst"]
            print(
                f"usb.wait_for ({where}): the waiting thread per event: {_ms(w['cpu'])} CPU, "
                f"{_ms(w['queued'])} waiting for a CPU (medians; the slowest event: "
                f"{_ms(slow)} = {_ms(slow_cpu)} CPU + {_ms(slow_queued)} waiting for a CPU)"
            )
    d = _run(DEVICES, str(HIL))
    hil, base, py = d["hil"], d["baseline"], d["python"]
    print(
        f"usb.devices (umockdev): `hil devices --json` on {d['modems']} modems "
        f"({d['usb_devices']} USB devices, {d['records']} udev records), a fresh process each "
        f"run, bytecode cached: {hil['wall']:.3f} s wall median (fastest {hil['min']:.3f} s; "
        f"goal < 0.3 s), {hil['cpu']:.3f} s CPU (load {d['load']:.1f})"
    )
    print(
        f"usb.devices (umockdev): baseline, plain pyudev as a command (list_devices of "
        f"usb/tty/net/usbmisc, every device's properties; {d['baseline_devices']} devices): "
        f"{base['wall']:.3f} s wall, {base['cpu']:.3f} s CPU → ratio "
        f"{hil['wall'] / base['wall']:.2f}x wall, {hil['cpu'] / base['cpu']:.2f}x CPU; "
        f"`python -c pass` {py['wall']:.3f} s wall, {py['cpu']:.3f} s CPU"
    )
    print(
        f"usb.devices (umockdev, in-process CPU): sysfs listing {_ms(d['listing'])}, "
        f"records {_ms(d['read'])} (listing included), records + model + JSON "
        f"{_ms(d['model'])}; floor: building each of the {d['records']} devices once "
        f"through pyudev {_ms(d['floor'])} (what reading every record through pyudev "
        f"cannot go below)"
    )
    fixed = _fixed_cost()
    print(
        f"usb.devices (this machine's /sys, no USB bus): the command's fixed cost "
        f"(interpreter, imports, empty listing) {fixed['wall']:.3f} s wall, "
        f"{fixed['cpu']:.3f} s CPU (load {os.getloadavg()[0]:.1f} at the end)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
