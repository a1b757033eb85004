"""Parsers of chronyc, NetworkManager --print-config, resolver files and curl -w,
on real tool output (fixtures recorded from the real programs, and the real
NetworkManager and curl run here)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hil.probes.chronyc import parse_sources_csv, parse_timedatectl_show, parse_tracking_csv
from hil.probes.curl import WRITE_OUT, parse_write_out
from hil.probes.nm_config import parse_print_config
from hil.probes.resolver import parse_nslookup, parse_resolv_conf, parse_servers_file
from hil.sim.services.connectivity import BALENA_NM_CONF, NM_CONF, print_config
from hil.sim.vfs import VirtualFS

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def test_chronyc_sources_synced_and_unreachable() -> None:
    synced = parse_sources_csv((FIX / "chrony/sources-N.synced.csv").read_text())
    assert [(s.name, s.state, s.reach) for s in synced] == [("127.0.0.1", "*", 377)]
    assert synced[0].selected and synced[0].reachable
    gone = parse_sources_csv((FIX / "chrony/sources.unreachable.csv").read_text())
    assert gone[0].state == "?" and not gone[0].reachable and gone[0].last_rx is None


def test_chronyc_tracking() -> None:
    assert parse_tracking_csv((FIX / "chrony/tracking.synced.csv").read_text()).synchronised
    unsynced = parse_tracking_csv((FIX / "chrony/tracking.unsynced.csv").read_text())
    assert not unsynced.synchronised and unsynced.leap_status == "Not synchronised"


def test_timedatectl_show() -> None:
    props = parse_timedatectl_show("NTP=yes\nNTPSynchronized=no\nTimezone=UTC\n")
    assert props["NTPSynchronized"] == "no"


def test_resolver_files_and_nslookup() -> None:
    assert parse_servers_file("\nserver=1.1.1.1\nserver=9.9.9.9\n") == ["1.1.1.1", "9.9.9.9"]
    assert parse_servers_file("\n") == []
    assert parse_resolv_conf("nameserver 127.0.0.2\noptions timeout:15\n") == ["127.0.0.2"]
    # busybox 1.35's words, as run here against a server that does not answer
    assert parse_nslookup(";; connection timed out; no servers could be reached\n", "x").error
    ok = parse_nslookup(
        "Server:\t\t127.0.0.2\nAddress:\t127.0.0.2:53\n\nNon-authoritative answer:\n"
        "Name:\tapi.example\nAddress: 203.0.113.16\n\n",
        "api.example",
    )
    assert ok.ok and ok.addresses == ["203.0.113.16"] and ok.server == "127.0.0.2"
    nx = parse_nslookup("Server:\t\t1.1.1.1\n\n** server can't find nope: NXDOMAIN\n", "nope")
    assert nx.error == "NXDOMAIN" and not nx.ok


def _real_print_config(tmp_path: Path, fragment: str | None) -> str:
    (tmp_path / "conf.d").mkdir(exist_ok=True)
    (tmp_path / "sys").mkdir(exist_ok=True)
    (tmp_path / "NetworkManager.conf").write_text(BALENA_NM_CONF)
    if fragment:
        (tmp_path / "conf.d/os-networkmanager.conf").write_text(fragment)
    out = subprocess.run(
        [
            "NetworkManager",
            "--print-config",
            f"--config={tmp_path}/NetworkManager.conf",
            f"--config-dir={tmp_path}/conf.d",
            f"--system-config-dir={tmp_path}/sys",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.replace(f"{tmp_path}/NetworkManager.conf", NM_CONF)


@pytest.mark.parametrize(
    "fragment",
    [
        None,
        "[connectivity]\nuri=http://connectivity.hil.lab/check\ninterval=10\nresponse=hil lab online\n",
        "[connectivity]\nuri=http://connectivity.hil.lab/check\ninterval=0\n",
    ],
)
def test_print_config_matches_real_networkmanager(tmp_path: Path, fragment: str | None) -> None:
    """The sim prints exactly what NetworkManager 1.42 prints for the same files."""
    if shutil.which("NetworkManager") is None:
        pytest.fail("NetworkManager is not installed (scripts/setup.sh installs network-manager)")
    real = _real_print_config(tmp_path, fragment)
    fs = VirtualFS()
    fs.write(NM_CONF, BALENA_NM_CONF)
    fs.mkdir("/etc/NetworkManager/conf.d")
    if fragment:
        fs.write("/etc/NetworkManager/conf.d/os-networkmanager.conf", fragment)
    assert print_config(fs) == real
    parsed = parse_print_config(real).connectivity
    if fragment is None:
        assert parsed.uri is None and not parsed.checking
    elif "interval=0" in fragment:
        assert parsed.interval == 0 and not parsed.checking
    else:
        assert (parsed.uri, parsed.interval, parsed.response) == (
            "http://connectivity.hil.lab/check",
            10,
            "hil lab online",
        )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"OK" if self.path == "/ping" else b"nope"
        self.send_response(200 if self.path == "/ping" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_curl_write_out_from_the_real_curl() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:

        def run(url: str) -> str:
            return subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", "--max-time", "5", "-w", WRITE_OUT, url],
                capture_output=True,
                text=True,
            ).stdout

        ok = parse_write_out(run(f"http://127.0.0.1:{port}/ping"))
        assert ok.connected and ok.http_code == 200 and ok.remote_port == port
        assert ok.remote_ip == "127.0.0.1" and ok.exit_code == 0
        missing = parse_write_out(run(f"http://127.0.0.1:{port}/other"))
        assert missing.http_code == 404 and missing.exit_code == 0
    finally:
        server.shutdown()
        server.server_close()
    refused = parse_write_out(run(f"http://127.0.0.1:{port}/ping"))
    assert refused.exit_code == 7 and refused.http_code == 0 and not refused.connected
    assert "Failed to connect" in refused.error
