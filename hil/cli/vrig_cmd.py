"""`hil vrig build|serve|agree|faults` — the virtual rig: build the guest, keep a lab's
VMs up, compare its verdicts with the sim's, check its lab faults."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from hil.cli.common import add_lab_option, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vrig",
        help="virtual rig: build the guest, serve a lab's qemu:// boards",
        description="The virtual rig (qemu:// consoles): Debian's kernel and the host's root "
        "file system, read-only over 9p under a tmpfs overlay, in QEMU with no network.",
    )
    s = p.add_subparsers(dest="vrig_command", metavar="SUBCOMMAND")
    s.required = True
    build = s.add_parser(
        "build",
        help="build the guest's initramfs (cached; a no-op when up to date)",
        description="Build the guest's kernel and initramfs into the cache "
        "(~/.cache/hil/vrig, HIL_VRIG_CACHE overrides) unless an up-to-date build is there. "
        "Prints the kernel and initramfs paths.",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.set_defaults(func=build_cmd)
    serve = s.add_parser(
        "serve",
        help="boot the lab's qemu:// boards and keep them up until interrupted",
        description="Boot every qemu:// board of the lab, wait for a shell on each console, "
        "and publish their consoles so that later `hil exec` and `hil run` calls reach the "
        "same guests. Ctrl-C (or SIGTERM) stops the VMs.",
    )
    add_lab_option(serve)
    serve.set_defaults(func=serve_cmd)
    agree = s.add_parser(
        "agree",
        help="every suite test's verdict on the sim and on the virtual rig, compared",
        description="Run the suites on a sim lab and on the virtual rig's lab (the same "
        "board names and configuration), and write a Markdown table of both verdicts per "
        "test. A difference is a documented limit of the virtual rig or unexplained; "
        "exit 1 if any is unexplained.",
    )
    agree.add_argument(
        "--sim-lab", default="lab-config/vrig-sim.yaml", metavar="PATH",
        help="the sim lab with the virtual rig's configuration (default: %(default)s)",
    )  # fmt: skip
    agree.add_argument(
        "--lab", default="lab-config/vrig.yaml", metavar="PATH",
        help="the virtual rig's lab (default: %(default)s)",
    )  # fmt: skip
    agree.add_argument(
        "--suite", action="append", default=[], metavar="NAME",
        help="a suite to compare, e.g. wifi (repeatable; default: every suite)",
    )  # fmt: skip
    agree.add_argument(
        "--out", default="out/vrig/agreement", metavar="DIR",
        help="where both runs' results and agreement.md go (default: %(default)s)",
    )  # fmt: skip
    agree.set_defaults(func=agree_cmd)
    faults = s.add_parser(
        "faults",
        help="each lab fault of the virtual rig turns the tests that declare it red",
        description="Run the suite tests that declare each fault the guest's lab can "
        "produce (guest/faults.d/), on a guest without faults and on one with the fault on "
        "from boot (each run boots its own guest: minutes). Writes a Markdown table; exit 1 "
        "if a declaring test that passes without its fault is not red with it.",
    )
    faults.add_argument(
        "--lab", default="lab-config/vrig.yaml", metavar="PATH",
        help="the virtual rig's lab (default: %(default)s)",
    )  # fmt: skip
    faults.add_argument(
        "--suite", action="append", default=[], metavar="NAME",
        help="suites whose declaring tests run (default: ethernet, requirements, connectivity)",
    )  # fmt: skip
    faults.add_argument(
        "--fault", action="append", default=[], metavar="NAME",
        help="faults to check (default: every fault of guest/faults.d/)",
    )  # fmt: skip
    faults.add_argument(
        "--out", default="out/vrig/faults", metavar="DIR",
        help="where the runs and faults.md go (default: %(default)s)",
    )  # fmt: skip
    faults.set_defaults(func=faults_cmd)


def build_cmd(args: argparse.Namespace) -> int:
    from hil.vrig.build import build

    started = time.monotonic()
    art = build(force=args.force)
    print(f"kernel {art.version}: {art.kernel}")
    print(f"initramfs: {art.initrd}")
    print(f"ready in {time.monotonic() - started:.1f}s")
    return 0


def serve_cmd(args: argparse.Namespace) -> int:
    from hil.vrig.server import VrigServer

    lab = load(args)
    server = VrigServer(lab, publish=True, lab_path=args.lab)
    if not server.boards:
        print(f"{args.lab}: no qemu:// boards in this lab", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    started = time.monotonic()
    try:
        server.start()
        for name, vm in server.boards.items():
            print(f"{name}: qemu://{name} on {vm.url}", flush=True)
        print(f"booted in {time.monotonic() - started:.1f}s; serving; Ctrl-C to stop", flush=True)
        while not done.wait(1.0):
            dead = [n for n, vm in server.boards.items() if not vm.alive()]
            if dead:
                print(f"hil: {', '.join(dead)}: QEMU exited", file=sys.stderr)
                return 255
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def agree_cmd(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hil.vrig.agreement import compare, render, run_outcomes

    out = Path(args.out)
    started = time.monotonic()
    sim = run_outcomes(Path(args.sim_lab), args.suite, out / "sim")
    sim_time = time.monotonic() - started
    vrig = run_outcomes(Path(args.lab), args.suite, out / "vrig")
    vrig_time = time.monotonic() - started - sim_time
    rows = compare(sim, vrig)
    text = render(rows)
    text += f"\nRun times: sim {sim_time:.0f}s, virtual rig {vrig_time:.0f}s.\n"
    (out / "agreement.md").write_text(text)
    print(text)
    print(f"written to {out / 'agreement.md'}")
    return 1 if any(r.note == "UNEXPLAINED" for r in rows) else 0


def faults_cmd(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hil.vrig.faultcheck import check, guest_faults, render

    known = guest_faults()
    unknown = [f for f in args.fault if f not in known]
    if unknown:
        print(
            f"hil vrig faults: the guest's lab cannot produce {', '.join(unknown)} "
            f"(it can: {', '.join(known)})",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    suites = args.suite or ["ethernet", "requirements", "connectivity"]
    rows = check(Path(args.lab), suites, args.fault or known)
    text = render(rows) + f"\nRun time: {time.monotonic() - started:.0f}s.\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.md").write_text(text)
    print(text)
    print(f"written to {out / 'faults.md'}")
    return 0 if all(r.ok for r in rows) else 1
