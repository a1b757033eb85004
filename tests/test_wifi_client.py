"""The lab's WiFi test client of the hotspot suite.

- What it saw is recorded beside a run's transcripts (never the psk) and given
  back by a replay in the same order.
- `HostWifiClient` (a physical rig's client: a WiFi interface of the lab host,
  through the lab host's NetworkManager) against the real thing as far as this
  machine allows: its profile as the real `nmcli --offline` builds it, and a whole
  join against a real NetworkManager 1.42 on its own D-Bus, in mount, network
  and PID namespaces created for the test. This kernel has no cfg80211 (and no
  mac80211_hwsim module to load), so there is no radio: the real daemon takes the
  profile and the secrets file and refuses the activation for want of a WiFi
  device — the client must report that in NetworkManager's words and clean up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hil.board.wifi_client import (
    CLIENT_CONNECTION,
    HostWifiClient,
    HotspotJoin,
    RecordedWifiClient,
    RecordingWifiClient,
)
from hil.errors import HarnessError
from hil.lab.secrets import REDACTOR
from hil.netconfig import Keyfile


class Scripted:
    """A client that answers from a list (what a lab's client would have seen)."""

    def __init__(self, *answers: HotspotJoin) -> None:
        self.answers = list(answers)

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        return self.answers.pop(0)


def test_a_recorded_join_keeps_what_the_client_saw_and_never_the_psk(tmp_path: Path) -> None:
    record = tmp_path / "pi4-a" / "labside.ndjson"
    REDACTOR.add("s3cret-psk-in-a-reason")
    refused = HotspotJoin(False, reason="4-way handshake failed s3cret-psk-in-a-reason")
    joined = HotspotJoin(True, "10.42.0.77/24", "10.42.0.1", True, "")
    client = RecordingWifiClient(Scripted(refused, joined), record)
    assert client.join("hil-hotspot", "wrong-s3cret") == refused
    assert client.join("hil-hotspot", "right-s3cret") == joined
    text = record.read_text()
    assert "s3cret" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(e["op"], e["ssid"], e["answer"]["associated"]) for e in lines] == [
        ("wifi-client", "hil-hotspot", False),
        ("wifi-client", "hil-hotspot", True),
    ]
    assert lines[1]["answer"]["address"] == "10.42.0.77/24"


def test_a_replay_gives_the_joins_back_in_recorded_order_per_ssid(tmp_path: Path) -> None:
    record = tmp_path / "labside.ndjson"
    proxy = {"op": "proxy_log", "since": 0, "next": 3, "entries": []}
    record.write_text(json.dumps(proxy) + "\n")  # other lab-side answers share the file
    joins = [
        ("hil-a", HotspotJoin(False, reason="wrong passphrase")),
        ("hil-b", HotspotJoin(True, "10.42.0.9/24", "10.42.0.1", True)),
        ("hil-a", HotspotJoin(True, "10.42.0.77/24", "10.42.0.1", True)),
    ]
    recorder = RecordingWifiClient(Scripted(*[j for _, j in joins]), record)
    for ssid, _ in joins:
        recorder.join(ssid, "x")
    replay = RecordedWifiClient("pi4-a", record)
    assert replay.join("hil-a", "hil-masked-secret") == joins[0][1]
    assert replay.join("hil-a", "hil-masked-secret") == joins[2][1]
    assert replay.join("hil-b", "anything") == joins[1][1]
    with pytest.raises(HarnessError) as e:
        replay.join("hil-a", "x")
    assert str(e.value).startswith("pi4-a: not in recording: the lab's WiFi client joining 'hil-a'")


# -- HostWifiClient against the real nmcli and NetworkManager ------------------------


def _offline(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
    """The real nmcli for `connection add` (offline: it prints the keyfile it would
    store); every other command of the join fails as on a host without the device."""
    if argv[0] == "nmcli" and "add" in argv:
        return subprocess.run([argv[0], "--offline", *argv[1:]], **kw)
    return subprocess.CompletedProcess(argv, 10, "", "Error: no such device\n")


@pytest.mark.real
@pytest.mark.skipif(not shutil.which("nmcli"), reason="network-manager is in APT_PACKAGES")
def test_the_client_profile_is_one_real_nmcli_builds_without_the_psk() -> None:
    built: list[str] = []

    def run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
        r = _offline(argv, **kw)
        if "--offline" in r.args:
            assert r.returncode == 0, r.stderr  # nmcli accepted every property and value
            built.append(r.stdout)
        return r

    result = HostWifiClient("wlx0", run=run).join("hil-hotspot-pi4", "s3cret-psk!", timeout=5)
    assert not result.associated and "Error: no such device" in result.reason
    assert len(built) == 1
    k = Keyfile.parse(built[0])
    assert k.get("connection", "id") == CLIENT_CONNECTION
    assert k.get("connection", "interface-name") == "wlx0"
    assert k.get("connection", "autoconnect") == "false"
    assert k.get("wifi", "ssid") == "hil-hotspot-pi4"
    assert k.get("wifi-security", "key-mgmt") == "wpa-psk"
    # NM_SETTING_SECRET_FLAG_NOT_SAVED: asked for at activation, never stored
    assert k.get("wifi-security", "psk-flags") == "2"
    assert "s3cret-psk!" not in built[0] and k.get("wifi-security", "psk") is None


#: inside fresh mount/net/PID namespaces: private /run, NetworkManager's directories
#: on tmpfs, a system bus of our own, NetworkManager 1.42 with the keyfile plugin;
#: then the client's join, run by this Python with the real nmcli
_IN_NAMESPACES = """
set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus
for d in /etc/NetworkManager /var/lib/NetworkManager; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
mkdir -p /etc/NetworkManager/system-connections
printf '[main]\\nplugins=keyfile\\ndns=none\\n' > /etc/NetworkManager/NetworkManager.conf
ip link set lo up
dbus-daemon --system --fork --nopidfile
/usr/sbin/NetworkManager --no-daemon > "$1/NetworkManager.log" 2>&1 &
for _ in $(seq 100); do nmcli -t general status > /dev/null 2>&1 && break; sleep 0.1; done
exec "$2" -c "$3" "$1"
"""

_JOIN = """
import json, subprocess, sys, glob, pathlib
from hil.board.wifi_client import HostWifiClient
out = pathlib.Path(sys.argv[1])
seen = {"calls": [], "stored": [], "passwd": []}

def run(argv, **kw):
    seen["calls"].append(argv)
    if "passwd-file" in argv:
        seen["passwd"].append(argv[argv.index("passwd-file") + 1])
    r = subprocess.run(argv, **kw)
    if "add" in argv:
        seen["stored"] += [pathlib.Path(p).read_text()
                           for p in glob.glob("/etc/NetworkManager/system-connections/*")]
    return r

result = HostWifiClient("wlx-hil", run=run).join("hil-hotspot-pi4", "s3cret-psk!", timeout=5)
left = subprocess.run(["nmcli", "-t", "-f", "NAME", "connection", "show"],
                      capture_output=True, text=True)
seen.update(result=result.__dict__, left=left.stdout, stored_after=glob.glob(
    "/etc/NetworkManager/system-connections/*"))
(out / "seen.json").write_text(json.dumps(seen))
"""


def _unshare_works() -> bool:
    r = subprocess.run(
        ["unshare", "-m", "-n", "-p", "-f", "true"], capture_output=True, text=True, timeout=20
    )
    return r.returncode == 0


@pytest.mark.real
def test_a_join_against_a_real_network_manager_without_a_radio(tmp_path: Path) -> None:
    """The real daemon stores the profile without the psk, takes the secrets file,
    and refuses to activate it (no WiFi device here): the join reports NetworkManager's
    reason, the profile is deleted and the secrets file removed."""
    if not _unshare_works():
        pytest.fail("cannot create namespaces (CI runs as root): unshare -m -n -p -f failed")
    script = [
        "unshare", "-m", "-n", "-p", "-f", "--mount-proc", "--propagation", "private",
        "sh", "-c", _IN_NAMESPACES, "sh", str(tmp_path), sys.executable, textwrap.dedent(_JOIN),
    ]  # fmt: skip
    r = subprocess.run(script, capture_output=True, text=True, timeout=120)
    log = tmp_path / "NetworkManager.log"
    assert (tmp_path / "seen.json").exists(), (
        r.stdout[-2000:] + r.stderr[-2000:] + (log.read_text()[-2000:] if log.exists() else "")
    )
    seen = json.loads((tmp_path / "seen.json").read_text())
    result = seen["result"]
    assert result["associated"] is False and result["address"] is None
    assert result["reason"].startswith(
        "lab host: Error: Connection activation failed: No suitable device found"
    ), result
    # the profile as the daemon stored it: no psk, asked for at activation
    assert len(seen["stored"]) == 1, seen["stored"]
    stored = Keyfile.parse(seen["stored"][0])
    assert stored.get("wifi", "ssid") == "hil-hotspot-pi4"
    assert stored.get("wifi-security", "psk-flags") == "2"
    assert "s3cret-psk!" not in seen["stored"][0]
    # the psk went only through the secrets file, which nmcli parsed and we removed
    assert all("s3cret-psk!" not in arg for argv in seen["calls"] for arg in argv)
    assert len(seen["passwd"]) == 1 and not Path(seen["passwd"][0]).exists()
    # nothing is left on the lab host's NetworkManager
    assert CLIENT_CONNECTION not in seen["left"].split()
    assert seen["stored_after"] == []
