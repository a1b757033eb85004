"""`curl -w` results as a model: the harness's write-out format and its parser.

Suites run `curl -sS -o /dev/null -w "$WRITE_OUT" URL` and parse the last
line, so the verdict rests on curl's own report (exit code, HTTP status,
remote address) rather than on error wording. Checked against the real curl
on loopback by tests/test_probes_curl.py.
"""

from __future__ import annotations

from dataclasses import dataclass

#: one line; errormsg is last because it contains spaces
WRITE_OUT = (
    r"hil-curl exitcode=%{exitcode} http_code=%{http_code} remote_ip=%{remote_ip} "
    r"remote_port=%{remote_port} errormsg=%{errormsg}\n"
)
MARK = "hil-curl "


@dataclass(frozen=True)
class CurlResult:
    exit_code: int
    http_code: int  # 0 when no response arrived
    remote_ip: str
    remote_port: int
    error: str

    @property
    def connected(self) -> bool:
        return self.exit_code == 0 and self.http_code > 0


def parse_write_out(text: str) -> CurlResult:
    """The last `hil-curl ...` line of the output (earlier output is the body)."""
    line = next((ln for ln in reversed(text.splitlines()) if ln.startswith(MARK)), None)
    if line is None:
        raise ValueError(f"no curl write-out line in {text[-200:]!r}")
    head, _, error = line[len(MARK) :].partition(" errormsg=")
    fields = dict(part.split("=", 1) for part in head.split() if "=" in part)
    return CurlResult(
        int(fields.get("exitcode") or 0),
        int(fields.get("http_code") or 0),
        fields.get("remote_ip", ""),
        int(fields.get("remote_port") or 0),
        error.strip(),
    )
