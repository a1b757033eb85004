"""system-proxy/redsocks.conf and no_proxy: the doc's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hil.netconfig import redsocks_conf, validate_no_proxy, validate_redsocks
from hil.netconfig.proxy import parse_redsocks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "proxy"
DOC_EXAMPLE = (FIXTURES / "redsocks.conf.doc").read_text()
FILLED = DOC_EXAMPLE.replace("<SERVER IP>", "192.0.2.10")


def test_fixture_is_the_doc_example() -> None:
    doc = Path("/work/shared/reference/balenaos-networking.md")
    if not doc.exists():
        doc = Path(__file__).resolve().parents[2] / "shared/reference/balenaos-networking.md"
    blocks = re.findall(r"```\n(.*?)```", doc.read_text(), re.S)
    assert DOC_EXAMPLE in blocks


def test_doc_example_is_valid_once_filled_in() -> None:
    report = validate_redsocks(FILLED)
    assert report.valid, report.lines()
    sections = parse_redsocks(FILLED)
    assert [s.name for s in sections] == ["base", "redsocks"]
    assert sections[1].values["local_port"][0] == "12345"


def test_doc_placeholder_is_an_error() -> None:
    (issue,) = validate_redsocks(DOC_EXAMPLE).errors
    assert issue.line == 11


@pytest.mark.parametrize(
    ("change", "line", "key"),
    [
        (('log = "syslog:local7";', 'log = "file:/var/log/redsocks";'), 4, "log"),
        (("daemon = off;", "daemon = on;"), 5, "daemon"),
        (("daemon = off;\n", ""), 1, "daemon"),
        (("local_port = 12345;", "local_port = 1080;"), 14, "local_port"),
        (("type = socks5;", "type = socks6;"), 10, "type"),
        (("ip = 192.0.2.10;", "ip = proxy.example.com;"), 11, "ip"),
        (("port = 8123;", "port = 70000;"), 12, "port"),
        (("log_info = on;", "log_info = yes;"), 3, "log_info"),
    ],
)
def test_doc_rules(change: tuple[str, str], line: int, key: str) -> None:
    report = validate_redsocks(FILLED.replace(*change))
    assert not report.valid
    assert [(i.line, i.key) for i in report.errors] == [(line, key)]


@pytest.mark.parametrize("kind", ["socks4", "socks5", "http-connect", "http-relay"])
def test_builder_types(kind: str) -> None:
    text = redsocks_conf("192.0.2.10", 3128, kind)
    assert validate_redsocks(text).valid
    assert "daemon = off;" in text and "local_port = 12345;" in text


def test_builder_refuses_a_host_name() -> None:
    with pytest.raises(ValueError, match="IPv4 address"):
        redsocks_conf("proxy.example.com", 3128)


def test_comments_and_syntax_errors() -> None:
    text = "// proxy\n/* multi\nline */\n" + FILLED
    assert validate_redsocks(text).valid
    (issue,) = validate_redsocks(FILLED.replace("port = 8123;", "port = 8123")).errors
    assert issue.line == 12 and "';'" in issue.message


def test_no_proxy() -> None:
    assert validate_no_proxy("10.0.0.0/8\n192.168.1.5\nfd00::/8\n").valid
    report = validate_no_proxy("10.0.0.0/8\nexample.com\n172.16.0.1/12\n")
    assert [(i.line, i.key) for i in report.errors] == [(2, "example.com")]
    assert [(i.line, i.key) for i in report.warnings] == [(3, "172.16.0.1/12")]
    crlf = validate_no_proxy("10.0.0.0/8\r\n")
    assert not crlf.valid and "CRLF" in crlf.errors[0].message
