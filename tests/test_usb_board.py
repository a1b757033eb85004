"""The board side of the USB model: over a real console to a sim board, and the sim's udevadm
checked against systemd's own udevadm reading the same devices."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from hil.board import Board
from hil.lab import load_lab
from hil.probes.udevadm import parse_export_db
from hil.sim.usb import usb_bus
from hil.sim.world import World
from hil.usb.board import BoardUsb
from hil.usb.match import NoMatch
from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb, stuck_in_storage
from hil.usb.testbed import recording_of
from hil.usb.wait import WaitTimeout
from tests.conftest import SIM_LAB
from tests.usb_umockdev import needs_umockdev, umockdev_run

pytestmark = pytest.mark.skipif(not CONFIG_PACK.is_file(), reason="needs usb-modeswitch-data")
E3372 = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3"
EC25 = "platform-3f980000.usb-usb-0:1.2"


@pytest.fixture
def lab(tmp_path: Path):
    # a lab of its own per test: faults and replugs must not leak into other tests
    # (a short name: the control socket's path is limited to 108 bytes)
    text = SIM_LAB.read_text().replace("name: sim-lab", f"name: usb{secrets.token_hex(3)}")
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return load_lab(path, env={})


def test_a_sim_board_over_its_console_waits_for_a_replugged_modem(lab):
    board = Board(lab, lab.board("pi3-b"))
    with board.open_shell() as sh:
        usb = board.usb(sh)
        ec25 = usb.find(EC25)
        assert (ec25.vid_pid, ec25.mode, ec25.net) == ("2c7c:0125", "modem", ["wwan0"])
        assert (
            usb.find({"@ID_PATH": EC25, "ID_MM_PORT_TYPE_AT_PRIMARY": "1"}).vid_pid == "2c7c:0125"
        )
        board.lab.usb_port("ec25", "unplug")
        assert usb.wait_for(EC25, gone=True, timeout=10) is None
        board.lab.usb_port("ec25", "plug")
        back = usb.wait_for(EC25, mode="modem", timeout=10)
        assert back.devnum > ec25.devnum and back.ttys == ec25.ttys
        with pytest.raises(NoMatch) as e:
            usb.find("platform-3f980000.usb-usb-0:1.4")
        assert f"1-1.2 (usb_device 2c7c/125/318): ID_PATH is '{EC25}'" in str(e.value)


def test_a_stuck_modem_is_reported_with_what_the_board_shows(lab):
    board = Board(lab, lab.board("pi4-a"))
    with board.open_shell() as sh:
        usb = BoardUsb(sh, board.name)
        usb.wait_for(E3372, mode="modem", timeout=10)
        with board.lab.fault("modem-stuck-in-storage-mode"):
            board.lab.usb_port("e3372", "replug")
            with pytest.raises(WaitTimeout) as e:
                usb.wait_for(E3372, mode="modem", timeout=3)
            message = str(e.value)
            assert message.startswith(f"pi4-a: waited 3s for usb_path {E3372} in modem mode")
            assert "12d1:1f01 (storage; usb-storage)" in message
            problem = stuck_in_storage(usb.find(E3372), ModeswitchDb.load())
            assert problem is not None
        # fault lifted: a replug switches as usual, and wait_for follows the new PID
        board.lab.usb_port("e3372", "replug")
        modem = usb.wait_for(E3372, mode="modem", timeout=10)  # raises when it does not come
        assert modem.vid_pid == "12d1:1506"


@pytest.mark.real
@needs_umockdev
@pytest.mark.parametrize("name", ["pi4-a", "pi3-b"])
def test_the_sims_udevadm_prints_what_systemds_udevadm_prints_for_the_same_devices(name, tmp_path):
    """Write the sim's bus as a umockdev testbed, let systemd 252's udevadm export it, and
    compare record by record with the sim's own `udevadm info --export-db`."""
    world = World(load_lab(SIM_LAB, env={}).board(name))
    world.boot()
    bus = usb_bus(world)
    time.sleep(bus.real_seconds(8))
    records = bus.records()
    rec = tmp_path / "sim.umockdev"
    rec.write_text(recording_of(records))
    r = umockdev_run([str(rec)], "udevadm", "info", "--export-db")
    assert r.returncode == 0, r.stderr
    real = {x.devpath: x for x in parse_export_db(r.stdout)}
    ours_text = bus.export_db()
    ours = {x.devpath: x for x in parse_export_db(ours_text)}
    assert set(real) == set(ours)
    for path, x in real.items():
        y = ours[path]
        assert (x.subsystem, x.devtype, x.driver, x.devnode) == (
            y.subsystem,
            y.devtype,
            y.driver,
            y.devnode,
        ), path
        # what the kernel's uevent carries, udev's rules add ID_* on top (not in a testbed)
        assert {k: v for k, v in x.properties.items()} == {
            k: v for k, v in y.properties.items() if not k.startswith(("ID_", "DEVLINKS"))
        }, path
    # the line structure of every record: P M R U T D N L V (S only where udev has links)
    real_keys = [
        [ln[0] for ln in block.splitlines() if ln[:1] not in ("E", "S")]
        for block in r.stdout.strip().split("\n\n")
    ]
    our_keys = [
        [ln[0] for ln in block.splitlines() if ln[:1] not in ("E", "S")]
        for block in ours_text.strip().split("\n\n")
    ]
    assert sorted(map("".join, real_keys)) == sorted(map("".join, our_keys))


def test_a_lab_modem_missing_from_its_port_is_named(lab):
    board = Board(lab, lab.board("pi4-a"))
    config = (
        lab.board("pi4-a")
        .modems[0]
        .model_copy(update={"usb_path": "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2"})
    )
    with board.open_shell() as sh:
        usb = BoardUsb(sh, board.name)
        usb.wait_for(E3372, mode="modem", timeout=10)
        assert usb.modem(lab.board("pi4-a").modems[0]).vid_pid == "12d1:1506"
        with pytest.raises(NoMatch) as e:
            usb.modem(config)
    first = str(e.value).splitlines()[0]
    assert first.startswith("pi4-a: modem e3372 (Huawei E3372): no USB device in board pi4-a")
