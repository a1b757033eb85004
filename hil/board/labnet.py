"""The lab's network services seen from the lab host: the proxy's log, the
connectivity endpoint.

A physical rig proves that a board's traffic went through the lab's proxy by
reading the proxy's access log (`network.proxy.log` in the lab config) from a
mark taken before the test: tinyproxy, squid and dante each log the
destination of a relayed connection. Before blaming a board for a
connectivity verdict, the lab side can check that the endpoint answers as the
lab config says (`check_endpoint`).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hil.errors import ConfigError

#: tinyproxy ("Request ...: CONNECT host:443 HTTP/1.1"), squid ("TCP_TUNNEL/200 0
#: CONNECT host:443"), the sim ("CONNECT host:443 from ...")
_CONNECT = re.compile(r"\bCONNECT\s+\[?([A-Za-z0-9_.:-]+?)\]?:(\d+)\b")
#: an HTTP proxy relaying a plain request ("GET http://host[:port]/path")
_RELAY = re.compile(r"\b(?:GET|POST|HEAD|PUT)\s+http://([A-Za-z0-9_.-]+)(?::(\d+))?/")
#: dante ("pass(1): tcp/connect [: 192.168.88.57.40000 203.0.113.16.443")
_DANTE = re.compile(r"tcp/connect \[: \S+ (\d+\.\d+\.\d+\.\d+)\.(\d+)")


@dataclass(frozen=True)
class ProxyConnection:
    """One connection the lab's proxy relayed."""

    host: str
    port: int
    line: str


def parse_proxy_log_line(line: str) -> ProxyConnection | None:
    """The destination of a relayed connection in one log line, if it names one."""
    m = _CONNECT.search(line)
    if m:
        return ProxyConnection(m.group(1), int(m.group(2)), line)
    m = _RELAY.search(line)
    if m:
        return ProxyConnection(m.group(1), int(m.group(2) or 80), line)
    m = _DANTE.search(line)
    if m:
        return ProxyConnection(m.group(1), int(m.group(2)), line)
    return None


class ProxyLogReader:
    """The proxy's access log on the lab host, read from a mark."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def mark(self) -> int:
        """Where the log ends now (later reads start here)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise ConfigError(f"network.proxy.log: cannot read {self.path}: {e}") from None

    def since(self, mark: int) -> list[ProxyConnection]:
        """The connections logged after `mark` (from the start if the log rotated)."""
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, 2)
                f.seek(mark if mark <= size else 0)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ConfigError(f"network.proxy.log: cannot read {self.path}: {e}") from None
        found = (parse_proxy_log_line(line) for line in text.splitlines())
        return [c for c in found if c is not None]


@dataclass(frozen=True)
class EndpointCheck:
    ok: bool
    status: int
    reason: str


def check_endpoint(uri: str, response: str, timeout: float = 10.0) -> EndpointCheck:
    """Does the connectivity endpoint answer as NetworkManager expects?

    The same rule as NetworkManager's check: the body starts with `response`
    (an empty `response` wants status 204 or an empty body)."""
    request = urllib.request.Request(uri, headers={"User-Agent": "hil-lab-check"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as answer:
            status = answer.status
            body = answer.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return EndpointCheck(False, e.code, f"{uri} answered HTTP {e.code}")
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return EndpointCheck(False, 0, f"{uri} does not answer: {reason}")
    if response == "":
        ok = status == 204 or (status == 200 and body == "")
        return EndpointCheck(
            ok, status, "" if ok else f"{uri}: expected no content, got {body[:60]!r}"
        )
    if body.startswith(response):
        return EndpointCheck(True, status, "")
    return EndpointCheck(
        False, status, f"{uri}: expected a body starting {response!r}, got {body[:60]!r}"
    )
