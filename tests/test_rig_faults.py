"""The lab side of a physical rig: fault commands, the router's nftables rules
(real nft in network namespaces made here), modem port power, and skips."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.board.labside import FaultUnsupported
from hil.board.rig_faults import RigLabSide
from hil.lab.models import FaultCommands, LabSideConfig, ModemPortConfig, RouterConfig

ROUTER_IP, BOARD_IP = "10.231.0.1", "10.231.0.2"

SERVER = textwrap.dedent("""
    import socket, threading
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 53))
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", 443)); t.listen(8)
    def tcp():
        while True:
            c, _ = t.accept(); c.sendall(b"443"); c.close()
    threading.Thread(target=tcp, daemon=True).start()
    print("ready", flush=True)
    while True:
        data, peer = u.recvfrom(512); u.sendto(b"53:" + data, peer)
""")

PROBE = textwrap.dedent("""
    import socket, sys
    kind, host = sys.argv[1], sys.argv[2]
    try:
        if kind == "udp53":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
            s.sendto(b"q", (host, 53)); s.recvfrom(64)
        else:
            s = socket.create_connection((host, 443), timeout=0.5); s.recv(8)
        print("open")
    except OSError:
        print("blocked")
""")


@pytest.fixture
def lab_net() -> Iterator[tuple[str, str]]:
    """Two namespaces: a lab router serving :53 and :443, and a board behind a veth."""
    tag = uuid.uuid4().hex[:6]
    router, board = f"hilr-{tag}", f"hilb-{tag}"
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    sh("ip", "netns", "add", router)
    sh("ip", "netns", "add", board)
    server = None
    try:
        sh(
            "ip",
            "link",
            "add",
            f"vr{tag}",
            "netns",
            router,
            "type",
            "veth",
            "peer",
            "name",
            f"vb{tag}",
            "netns",
            board,
        )
        for ns, dev, ip in ((router, f"vr{tag}", ROUTER_IP), (board, f"vb{tag}", BOARD_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", router, sys.executable, "-c", SERVER],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        yield router, board
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", router], capture_output=True)
        subprocess.run(["ip", "netns", "del", board], capture_output=True)


def probe(board_ns: str, kind: str) -> str:
    r = subprocess.run(
        ["ip", "netns", "exec", board_ns, sys.executable, "-c", PROBE, kind, ROUTER_IP],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return r.stdout.strip()


@pytest.mark.real
def test_router_faults_drop_exactly_their_traffic(lab_net: tuple[str, str]) -> None:
    router, board = lab_net
    side = RigLabSide("pi4", LabSideConfig(router=RouterConfig(netns=router, board_ip=BOARD_IP)))
    assert (probe(board, "udp53"), probe(board, "tcp443")) == ("open", "open")
    with side.fault("dns-blocked"):
        assert (probe(board, "udp53"), probe(board, "tcp443")) == ("blocked", "open")
        with side.fault("port-443-blocked"):
            assert (probe(board, "udp53"), probe(board, "tcp443")) == ("blocked", "blocked")
        assert probe(board, "tcp443") == "open"
    assert (probe(board, "udp53"), probe(board, "tcp443")) == ("open", "open")
    listed = subprocess.run(
        ["ip", "netns", "exec", router, "nft", "list", "ruleset"], capture_output=True, text=True
    ).stdout
    assert "hil_pi4" in listed and "drop" not in listed  # table kept, empty


def test_fault_commands_and_modem_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls"
    tool = tmp_path / "uhubctl"
    tool.write_text(f'#!/bin/sh\necho "uhubctl $*" >> {log}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    side = RigLabSide(
        "pi4",
        LabSideConfig(
            faults={
                "ap-down": FaultCommands(on=f"echo ap off >> {log}", off=f"echo ap on >> {log}")
            },
            modem_power=ModemPortConfig(location="1-1", port=3),
        ),
    )
    with side.fault("ap-down"):
        assert side.active_faults() == ["ap-down"]
    with side.fault("modem-drops-off-bus"):
        pass
    with side.fault("modem-reenumerates"):
        pass
    assert log.read_text().splitlines() == [
        "ap off",
        "ap on",
        "uhubctl -l 1-1 -p 3 -a off",
        "uhubctl -l 1-1 -p 3 -a on",
        "uhubctl -l 1-1 -p 3 -a cycle",
        "uhubctl -l 1-1 -p 3 -a on",
    ]


def test_a_fault_the_rig_cannot_produce() -> None:
    side = RigLabSide("pi4", LabSideConfig(router=RouterConfig(board_ip=BOARD_IP)))
    assert side.supports("ntp-blocked") and not side.supports("proxy-down")
    with (
        pytest.raises(FaultUnsupported, match="cannot produce fault 'wrong-psk'"),
        side.fault("wrong-psk"),
    ):
        pass


def test_suite_test_needing_an_unsupported_fault_skips_with_the_reason(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        textwrap.dedent("""
        name: rig
        boards:
          - name: pi4
            device_type: raspberrypi4-64
            console: {url: /dev/ttyUSB-unused}
            lab_side:
              faults:
                ap-down: {on: "true", off: "true"}
    """)
    )
    suite = tmp_path / "test_x.py"
    suite.write_text(
        textwrap.dedent("""
        def test_wrong_psk(board):
            with board.lab.fault("wrong-psk"):
                raise AssertionError("not reached")

        def test_ap_down(board):
            with board.lab.fault("ap-down"):
                pass
    """)
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rs",
            "-p",
            "no:cacheprovider",
            f"--lab={lab}",
            str(suite),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "1 passed, 1 skipped" in r.stdout, r.stdout
    assert "pi4: this lab cannot produce fault 'wrong-psk'" in r.stdout
