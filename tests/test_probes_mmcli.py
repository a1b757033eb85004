"""`mmcli -K` / `-J` parsers, on outputs of the real mmcli 1.20.4 (fixtures/mmcli/),
and live against the real ModemManager in its test mode (tests/realmm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.probes.mmcli import (
    parse_bearer,
    parse_error,
    parse_json,
    parse_keyvalue,
    parse_modem,
    parse_modem_list,
    parse_sim,
)
from tests import realmm

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mmcli"


def fixture(name: str) -> str:
    """A recorded output without its provenance header."""
    text = (FIXTURES / f"{name}.txt").read_text()
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


def test_keyvalue_none_and_arrays() -> None:
    flat = parse_keyvalue(fixture("modem-locked.K"))
    assert flat["modem.generic.state-failed-reason"] is None  # `--`
    assert flat["modem.generic.bearers"] is None  # an empty list prints `--`
    assert flat["modem.generic.unlock-retries"] == [
        "sim-pin (3)",
        "sim-puk (10)",
        "sim-pin2 (3)",
        "sim-puk2 (10)",
    ]
    assert flat["modem.generic.current-capabilities"] == ["gsm-umts, lte"]  # one item with a comma


def test_json_every_value_a_string() -> None:
    flat = parse_json(fixture("modem-registered.J"))
    assert flat["modem.generic.signal-quality.value"] == "67"
    assert flat["modem.generic.bearers"] == []
    assert flat["modem.3gpp.pco"] is None


@pytest.mark.parametrize(
    "name",
    [
        "modem-registered",
        "modem-connected",
        "modem-locked",
        "modem-failed-sim-missing",
    ],
)
def test_keyvalue_and_json_give_the_same_modem(name: str) -> None:
    assert parse_modem(fixture(f"{name}.K")) == parse_modem(fixture(f"{name}.J"))


def test_registered_modem() -> None:
    m = parse_modem(fixture("modem-registered.K"))
    assert (m.index, m.manufacturer, m.model, m.revision) == (
        0,
        "huawei",
        "E3372",
        "22.315.01.00.00",
    )
    assert m.state == "registered" and m.registered
    assert m.signal_quality == 67 and m.signal_recent
    assert (m.operator_code, m.operator_name) == ("23410", "giffgaff")
    assert m.registration_state == "home" and m.access_technologies == ["lte"]
    assert m.ports[0].type == "at" and m.primary_port == m.ports[0].name
    assert m.sim_index == 0 and m.bearers == []


def test_connected_modem_and_bearer() -> None:
    m = parse_modem(fixture("modem-connected.K"))
    assert m.state == "connected" and m.bearer_indices == [0]
    b = parse_bearer(fixture("bearer-connected.K"))
    assert b == parse_bearer(fixture("bearer-connected.J"))
    assert b.connected and b.apn == "internet" and b.error is None
    assert b.ipv4.method == "ppp" and b.ipv4.prefix == 0 and b.ipv4.dns == []


def test_failed_and_locked_states_in_modemmanager_words() -> None:
    failed = parse_modem(fixture("modem-failed-sim-missing.K"))
    assert failed.describe_state() == "failed (sim-missing)" and failed.sim is None
    locked = parse_modem(fixture("modem-locked.K"))
    assert locked.describe_state() == "locked (sim-pin required, 3 tries left)"
    assert parse_modem(fixture("modem-searching.K")).registration_state == "searching"
    assert parse_modem(fixture("modem-weak-signal.K")).signal_quality == 3


def test_bearer_connection_error() -> None:
    b = parse_bearer(fixture("bearer-wrong-apn.K"))
    assert not b.connected and b.apn == "wrong.apn"
    assert b.error == "Missing or unknown APN (MissingOrUnknownApn)"
    assert b == parse_bearer(fixture("bearer-wrong-apn.J"))


def test_sim() -> None:
    s = parse_sim(fixture("sim.K"))
    assert s == parse_sim(fixture("sim.J"))
    assert s.active and s.imsi == "234500012345678" and s.iccid == "89440900010002030405"


def test_modem_list() -> None:
    assert parse_modem_list(fixture("list.K")).indices == [0]
    assert parse_modem_list(fixture("list.J")).indices == [0]
    assert parse_modem_list(fixture("list")).indices == [0]
    assert parse_modem_list(fixture("list-empty.K")).paths == []


def test_errors() -> None:
    e = parse_error(fixture("error-pin-incorrect"))
    assert e is not None and e.short == "IncorrectPassword"
    assert str(e) == "couldn't send PIN code to the SIM: Incorrect password"
    e = parse_error(fixture("error-connect-wrong-apn"))
    assert e is not None and e.message == "Missing or unknown APN"
    e = parse_error(fixture("error-no-modem"))
    assert e is not None and str(e) == "couldn't find modem" and e.dbus_error is None
    assert parse_error(fixture("modem-registered.K")) is None


def test_old_style_one_line_lists() -> None:
    flat = parse_keyvalue("modem.generic.ports : ttyUSB0 (at), wwan0 (net)\n")
    assert flat["modem.generic.ports"] == ["ttyUSB0 (at)", "wwan0 (net)"]


@pytest.mark.slow
@pytest.mark.skipif(realmm.available() is not None, reason=str(realmm.available()))
def test_parsers_on_the_live_daemon() -> None:
    """The real ModemManager, a fake AT modem: the parsers read what mmcli prints now."""
    with realmm.RealModemManager() as mm:
        mm.plug("registered")
        assert parse_modem_list(mm.mmcli("-L", "-K").stdout).indices == [0]
        mm.wait_state("0", ("disabled",))
        assert mm.mmcli("-m", "0", "-e").returncode == 0
        mm.wait_state("0", ("registered",))
        k = parse_modem(mm.mmcli("-m", "0", "-K").stdout)
        assert k == parse_modem(mm.mmcli("-m", "0", "-J").stdout)
        assert k.registered and k.operator_name == "giffgaff"
        assert mm.mmcli("-m", "0", "--simple-connect=apn=internet").returncode == 0
        b = parse_bearer(mm.mmcli("-b", "0", "-K").stdout)
        assert b.connected and b.apn == "internet"
