"""The virtual rig's lab faults: every hook names a catalogue fault, and
`hil vrig faults` judges a declaring test by its two verdicts."""

from __future__ import annotations

import os

from hil.lab.faults import FAULTS
from hil.vrig.build import GUEST_DIR
from hil.vrig.faultcheck import FaultRow, guest_faults, render


def test_every_hook_is_an_executable_board_fault_of_the_catalogue() -> None:
    hooks = guest_faults()
    assert {"dns-blocked", "port-443-blocked", "ntp-blocked", "dhcp-timeout"} <= set(hooks)
    for name in hooks:
        assert name in FAULTS and FAULTS[name].kind == "board", name
        assert os.access(GUEST_DIR / "faults.d" / name, os.X_OK), name


def test_a_declaring_test_must_go_red_unless_it_could_not_pass() -> None:
    t = "suites/test_requirements.py::test_outbound_tcp_443[vrig-a]"
    red = FaultRow("port-443-blocked", t, "passed", "failed", "curl exit 28")
    green = FaultRow("port-443-blocked", t, "passed", "passed", "")
    skipped = FaultRow("proxy-down", t, "skipped", "skipped", "no proxy")
    assert red.ok and red.note == "red"
    assert not green.ok and green.note == "NOT RED"
    assert skipped.ok and skipped.note.startswith("skipped without the fault")
    text = render([red, green, skipped])
    assert "3 test runs under 2 faults: 2 as they must be, 1 not." in text
    assert "| port-443-blocked | `" + t + "` | passed | passed | NOT RED |" in text
