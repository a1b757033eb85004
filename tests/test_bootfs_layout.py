"""Where inputs go in the boot partition, and the config.json merge — checked against real jq."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hil.bootfs import ImageError, collect_boot_files, merge_config_json

EXISTING = {
    "deviceType": "raspberrypi4-64",
    "apiKey": "0123456789abcdef",
    "hostname": "3f2a1bc",
    "dnsServers": "8.8.8.8",
    "os": {"sshKeys": ["ssh-ed25519 AAAA"], "network": {"wifi": {"randomMacAddressScan": True}}},
    "persistentLogging": False,
}
PATCHES = [
    {"country": "GB"},
    {"dnsServers": None},
    {"dnsServers": "1.1.1.1 9.9.9.9", "ntpServers": "ntp.example.org"},
    {
        "os": {
            "network": {"connectivity": {"uri": "http://x/", "interval": "3600", "response": "ok"}}
        }
    },
    {"os": {"network": {"wifi": {"randomMacAddressScan": False}}}},
    {"os": {"sshKeys": []}},
    {"os": None},
    {"hostname": "lab-pi", "persistentLogging": True, "deviceType": "raspberrypi3"},
    {"nested": {"a": {"b": {"c": [1, 2, {"d": None}]}}}, "unicode": "café ☕"},
    {},
]


@pytest.mark.real
@pytest.mark.parametrize("patch", PATCHES, ids=range(len(PATCHES)))
def test_merge_agrees_with_jq(tmp_path: Path, patch: dict) -> None:
    """A live board merges with `jq -s '.[0] * .[1]'`; an image with merge_config_json."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(EXISTING))
    b.write_text(json.dumps(patch))
    jq = subprocess.run(["jq", "-s", ".[0] * .[1]", str(a), str(b)], capture_output=True, text=True)
    assert jq.returncode == 0, jq.stderr
    ours = merge_config_json(a.read_bytes(), b.read_bytes(), "test")
    # Same keys, same values, same order.
    assert json.dumps(json.loads(ours)) == json.dumps(json.loads(jq.stdout))


def test_merge_refuses_a_result_networkmanager_would_not_get() -> None:
    with pytest.raises(ImageError, match=r"^img: config\.json after merge: .*os\.network\.wifi"):
        merge_config_json(json.dumps(EXISTING).encode(), b'{"os": {"network": {"wifi": 1}}}', "img")


def test_merge_into_nothing_and_into_garbage() -> None:
    assert json.loads(merge_config_json(None, b'{"country": "DE"}', "x")) == {"country": "DE"}
    with pytest.raises(ImageError, match="x: is not valid JSON"):
        merge_config_json(b"{", b"{}", "x")
    with pytest.raises(ImageError, match="not a JSON object"):
        merge_config_json(b"[1]", b"{}", "x")


def test_layout_of_every_kind(tmp_path: Path) -> None:
    def w(name: str, text: str) -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    wifi = "[connection]\nid=w\ntype=wifi\n\n[wifi]\nssid=hil-lab\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=hil-lab-passphrase\n"
    gsm = "[connection]\nid=cellular\ntype=gsm\n\n[gsm]\napn=internet\npassword = s3cr3t-pass\nusername=u\n"
    proxy = (
        'base {\nlog = "syslog:local7";\ndaemon = off;\nredirector = iptables;\n}\n\n'
        "redsocks {\ntype = http-connect;\nip = 10.0.0.1;\nport = 3128;\nlocal_ip = 127.0.0.1;\n"
        'local_port = 12345;\nlogin = "me";\npassword = "pr0xy-pass";\n}\n'
    )
    files = collect_boot_files(
        connections=[w("resin-wifi", wifi), w("cellular", gsm)],
        config_json=w("patch.json", '{"country": "GB", "wifi": {"psk": "json-secret"}}'),
        redsocks_conf=w("proxy.conf", proxy),
        no_proxy=w("np", "10.0.0.0/8\n"),
        dispatchers=[w("99-hook", "#!/bin/sh\nexit 0\n")],
    )
    assert [(f.path, oct(f.mode), f.merge_json) for f in files] == [
        ("system-connections/resin-wifi", "0o600", False),
        ("system-connections/cellular", "0o600", False),
        ("config.json", "0o644", True),
        ("system-proxy/redsocks.conf", "0o600", False),
        ("system-proxy/no_proxy", "0o644", False),
        ("dispatcher.d/99-hook", "0o755", False),
    ]
    assert files[0].secrets == ("hil-lab-passphrase",)
    assert files[1].secrets == ("s3cr3t-pass",)
    assert files[2].secrets == ("json-secret",)
    assert files[3].secrets == ("pr0xy-pass",)
    assert files[4].secrets == ()


def test_file_names_fat_cannot_hold(tmp_path: Path) -> None:
    for bad in ("trailing.", "trailing ", "a*b", "q?", 'quo"te', "tab\there"):
        p = tmp_path / bad
        p.write_text("[connection]\n")
        with pytest.raises(ImageError, match=r"FAT"):
            collect_boot_files(connections=[p])
