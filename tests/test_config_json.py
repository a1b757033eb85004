"""config.json's networking keys: model, checks naming the key, merge keeping other keys."""

from __future__ import annotations

import json

import pytest

from hil.netconfig import merge_config_json, parse_config_json, validate_config_json

EXISTING = json.dumps(
    {
        "applicationId": 1234,
        "deviceType": "raspberrypi4-64",
        "persistentLogging": False,
        "os": {"sshKeys": ["ssh-ed25519 AAAA lab"], "network": {"wifi": {"x": 1}}},
    },
    indent=2,
)


def test_defaults_and_null() -> None:
    assert parse_config_json("{}").dns_server_list == ["8.8.8.8"]
    assert parse_config_json('{"dnsServers": null}').dns_server_list == []
    cfg = parse_config_json(
        '{"dnsServers": "1.1.1.1 9.9.9.9", "ntpServers": "pool.ntp.org 10.0.0.1"}'
    )
    assert cfg.dns_server_list == ["1.1.1.1", "9.9.9.9"]
    assert cfg.ntp_server_list == ["pool.ntp.org", "10.0.0.1"]


def test_all_networking_keys() -> None:
    cfg = parse_config_json(
        json.dumps(
            {
                "country": "GB",
                "hostname": "lab-pi4",
                "os": {
                    "network": {
                        "connectivity": {
                            "uri": "https://api.balena-cloud.com/connectivity-check",
                            "interval": "300",
                            "response": "",
                        },
                        "wifi": {"randomMacAddressScan": True},
                    },
                    "udevRules": {"56": 'ENV{ID_FS_LABEL_ENC}=="resin-boot"'},
                },
                "uuid": "kept",
            }
        )
    )
    assert cfg.country == "GB"
    assert cfg.os and cfg.os.network and cfg.os.network.connectivity
    assert cfg.os.network.connectivity.interval == 300
    assert cfg.os.network.wifi and cfg.os.network.wifi.random_mac_address_scan is True
    assert cfg.model_extra == {"uuid": "kept"}


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('{"country": "gb"}', 1, "country"),
        ('{\n  "dnsServers": "8.8.8.8 dns.google"\n}', 2, "dnsServers"),
        ('{\n  "ntpServers": "bad_host!"\n}', 2, "ntpServers"),
        ('{"hostname": "has space"}', 1, "hostname"),
        ('{\n "os": {\n  "network": {\n   "connectivity": {"uri": "ftp://x"}}}}', 4, "os.network.connectivity.uri"),
        ('{\n "os": {"network": {"wifi": {\n  "randomMacAddressScan": "maybe"}}}}', 3, "os.network.wifi.randomMacAddressScan"),
        ('{"os": {"udevRules": {"a": 5}}}', 1, "os.udevRules.a"),
    ],
)  # fmt: skip
def test_errors_name_line_and_key(text: str, line: int, key: str) -> None:
    report = validate_config_json(text, "config.json")
    assert not report.valid
    issue = report.errors[0]
    assert (issue.line, issue.key) == (line, key)
    assert str(issue).startswith(f"line {line}: {key}: ")


def test_not_json() -> None:
    (issue,) = validate_config_json('{\n"country": GB\n}').errors
    assert issue.line == 2


def test_merge_keeps_other_keys_and_order() -> None:
    merged = json.loads(merge_config_json(EXISTING, {"country": "GB", "dnsServers": None,
                                                     "os": {"network": {"wifi": {"randomMacAddressScan": False}}}}))  # fmt: skip
    assert list(merged)[:3] == ["applicationId", "deviceType", "persistentLogging"]
    assert merged["os"]["sshKeys"] == ["ssh-ed25519 AAAA lab"]
    assert merged["os"]["network"]["wifi"] == {"x": 1, "randomMacAddressScan": False}
    assert merged["dnsServers"] is None and merged["country"] == "GB"


def test_merge_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="country"):
        merge_config_json(EXISTING, {"country": "Great Britain"})
    assert merge_config_json(None, b'{"country": "DE"}') == b'{\n  "country": "DE"\n}\n'
