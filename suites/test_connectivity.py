"""Checking connectivity (networking doc, "Checking connectivity"): config.json
`os.network.connectivity` (`uri`, `interval`, `response`) reaches
NetworkManager's configuration; the state is `full` when the URI answers as
expected and `limited`/`portal` when it does not; `interval: 0` disables it."""

from __future__ import annotations

import pytest
from _net import config_json, read, wait_network

from hil.board import Board
from hil.console import ShellSession
from hil.probes.nm_config import parse_print_config

CHECK = "nmcli --colors no networking connectivity check"


def settings(board: Board, interval: int) -> dict:
    endpoint = board.network.connectivity
    assert endpoint is not None
    return {
        "os": {
            "network": {
                "connectivity": {
                    "uri": endpoint.uri,
                    "interval": interval,
                    "response": endpoint.response,
                }
            }
        }
    }


def state(shell: ShellSession) -> str:
    return read(shell, CHECK, timeout=60).strip()


@pytest.mark.needs("connectivity-endpoint")
@pytest.mark.faults("connectivity-check-fails", "dns-blocked", "dhcp-timeout")
def test_connectivity_check_reports_full(board: Board, shell: ShellSession) -> None:
    """The configured check reaches NetworkManager's config and reports `full`."""
    endpoint = board.network.connectivity
    assert endpoint is not None
    wait_network(shell)
    with config_json(shell, settings(board, 30)):
        config = parse_print_config(read(shell, "NetworkManager --print-config")).connectivity
        assert (config.uri, config.interval, config.response) == (
            endpoint.uri,
            30,
            endpoint.response,
        ), f"NetworkManager's [connectivity] is {config}"
        word = state(shell)
        assert word == "full", f"connectivity is {word!r} with {endpoint.uri} answering"


@pytest.mark.needs("connectivity-endpoint")
@pytest.mark.faults("dhcp-timeout")
def test_connectivity_check_reports_when_uri_fails(board: Board, shell: ShellSession) -> None:
    """When the URI does not answer as expected, the state is limited or portal."""
    wait_network(shell)
    with config_json(shell, settings(board, 30)), board.lab.fault("connectivity-check-fails"):
        word = state(shell)
        assert word in ("limited", "portal"), f"connectivity is {word!r} with the URI failing"


@pytest.mark.needs("connectivity-endpoint")
@pytest.mark.faults("dhcp-timeout")
def test_interval_zero_disables_the_check(board: Board, shell: ShellSession) -> None:
    """`interval: 0` switches the check off: a failing URI no longer matters."""
    wait_network(shell)
    with config_json(shell, settings(board, 0)), board.lab.fault("connectivity-check-fails"):
        config = parse_print_config(read(shell, "NetworkManager --print-config")).connectivity
        assert config.interval == 0 and not config.checking, f"[connectivity] is {config}"
        word = state(shell)
        assert word == "full", f"connectivity is {word!r} with the check disabled"
