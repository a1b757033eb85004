"""The lab side a physical rig uses, against real services on loopback: the
proxy's access log (a real tinyproxy relaying real curl traffic) and the
connectivity endpoint check (a real HTTP server)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hil.board.labnet import ProxyLogReader, check_endpoint, parse_proxy_log_line


class _Endpoint(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = {
            "/check": (200, b"hil lab online\n"),
            "/portal": (200, b"<html>Sign in</html>"),
            "/empty": (204, b""),
        }.get(self.path, (404, b"nope"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("tinyproxy") is None:
        pytest.fail("tinyproxy is not installed (scripts/setup.sh installs it)")
    port = _free_port()
    log = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(
        f'Port {port}\nListen 127.0.0.1\nTimeout 10\nLogFile "{log}"\nLogLevel Info\n'
        "MaxClients 10\nAllow 127.0.0.1\n"
    )
    proc = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("tinyproxy did not start listening")
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _curl(*args: str) -> int:
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "10", *args]).returncode


def test_proxy_log_shows_what_went_through_a_real_proxy(
    tinyproxy: tuple[int, Path], endpoint: str
) -> None:
    port, log = tinyproxy
    reader = ProxyLogReader(log)
    mark = reader.mark()
    target = endpoint.removeprefix("http://")
    assert _curl("-p", "-x", f"http://127.0.0.1:{port}", f"{endpoint}/check") == 0  # CONNECT
    assert _curl("-x", f"http://127.0.0.1:{port}", f"{endpoint}/check") == 0  # relayed GET
    seen = [(c.host, c.port) for c in reader.since(mark)]
    host, dport = target.split(":")
    assert seen.count((host, int(dport))) == 2, seen
    later = reader.mark()
    assert _curl(f"{endpoint}/check") == 0  # direct: not in the proxy's log
    assert reader.since(later) == []


def test_proxy_log_formats() -> None:
    squid = (
        "1700000000.123    456 192.168.88.57 TCP_TUNNEL/200 1234 CONNECT "
        "api.balena-cloud.com:443 - HIER_DIRECT/203.0.113.16 -"
    )
    assert parse_proxy_log_line(squid).host == "api.balena-cloud.com"  # type: ignore[union-attr]
    dante = "Nov 25 10:00:00 (1700000000.1) danted[1]: info: pass(1): tcp/connect [: "
    dante += "192.168.88.57.40000 203.0.113.16.443"
    conn = parse_proxy_log_line(dante)
    assert conn is not None and (conn.host, conn.port) == ("203.0.113.16", 443)
    assert parse_proxy_log_line("INFO Nov 25 [1]: Starting main loop.") is None


def test_connectivity_endpoint_check_against_a_real_server(endpoint: str) -> None:
    assert check_endpoint(f"{endpoint}/check", "hil lab online").ok
    portal = check_endpoint(f"{endpoint}/portal", "hil lab online")
    assert not portal.ok and "expected a body starting" in portal.reason
    assert check_endpoint(f"{endpoint}/empty", "").ok
    assert check_endpoint(f"{endpoint}/missing", "x").status == 404
    down = check_endpoint(f"http://127.0.0.1:{_free_port()}/check", "x", timeout=3)
    assert not down.ok and "does not answer" in down.reason
