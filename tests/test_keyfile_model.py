"""`Keyfile`: GKeyFile syntax, NetworkManager's escaping and aliases, byte-exact round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.netconfig import Keyfile, KeyfileSyntaxError, is_loaded_by_os, why_not_loaded
from hil.netconfig.gkeyfile import ValueSyntaxError, escape, escape_list, unescape, unescape_list

KEYFILES = Path(__file__).resolve().parent.parent / "fixtures" / "keyfiles"
ALL_FILES = sorted(
    p for sub in ("corpus", "doc") for p in (KEYFILES / sub).iterdir() if p.suffix != ".md"
)


def _parses(path: Path) -> bool:
    try:
        Keyfile.parse(path.read_bytes())
    except KeyfileSyntaxError:
        return False
    return True


PARSEABLE = [p for p in ALL_FILES if _parses(p)]


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert Keyfile.parse(data).to_bytes() == data


def test_only_glib_syntax_errors_fail_to_parse() -> None:
    unparseable = sorted(p.name for p in ALL_FILES if p not in PARSEABLE)
    assert unparseable == [
        "syntax-bad-group",
        "syntax-bom",
        "syntax-key-before-group",
        "syntax-line-without-equals",
        "syntax-semicolon-comment",
    ]


def test_comments_unknown_keys_order_and_crlf_survive_an_edit() -> None:
    text = (
        "# top comment\r\n[connection]\r\nid=x\r\ntype=wifi\r\nmy-own-key=kept\r\n\r\n"
        "[wifi]\r\n  # indented\r\nssid=old\r\nmode=infrastructure\r\n"
    )
    kf = Keyfile.parse(text)
    kf.set("wifi", "ssid", "new")
    kf.set("wifi", "hidden", True)
    kf.set("ipv4", "method", "auto")
    assert kf.dump() == (
        "# top comment\r\n[connection]\r\nid=x\r\ntype=wifi\r\nmy-own-key=kept\r\n\r\n"
        "[wifi]\r\n  # indented\r\nssid=new\r\nmode=infrastructure\r\nhidden=true\r\n"
        "\r\n[ipv4]\r\nmethod=auto\r\n"
    )


def test_aliases_resolve_both_ways() -> None:
    kf = Keyfile.parse("[802-11-wireless]\nssid=a\n[wifi-security]\npsk=secret123\n")
    assert kf.get("wifi", "ssid") == "a"
    assert kf.get("802-11-wireless-security", "psk") == "secret123"
    assert kf.section_for("ethernet") is None
    kf.set("ethernet", "mtu", 1500)
    assert "[ethernet]\nmtu=1500\n" in kf.dump()
    assert kf.get("802-3-ethernet", "mtu") == "1500"


def test_type_alias_is_a_setting_name() -> None:
    assert Keyfile.parse("[connection]\ntype=wifi\n").connection_type == "802-11-wireless"
    assert Keyfile.parse("[connection]\ntype=gsm\n").connection_type == "gsm"


def test_last_duplicate_wins_as_in_glib() -> None:
    kf = Keyfile.parse("[wifi]\nssid=first\nssid=second\n")
    assert kf.get("wifi", "ssid") == "second"


def test_lists_and_address_values() -> None:
    kf = Keyfile.parse("[ipv4]\naddress1=192.168.1.111/24,192.168.1.1\ndns=8.8.8.8;8.8.4.4;\n")
    assert kf.get_list("ipv4", "dns") == ["8.8.8.8", "8.8.4.4"]
    assert kf.get("ipv4", "address1") == "192.168.1.111/24,192.168.1.1"
    kf.set("ipv4", "dns-search", ["a.example", "semi;colon"])
    assert kf.raw("ipv4", "dns-search") == "a.example;semi\\;colon;"
    assert kf.get_list("ipv4", "dns-search") == ["a.example", "semi;colon"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [("\\sx\\tb\\\\", " x\tb\\"), ("a\\nb", "a\nb"), ("plain value ", "plain value ")],
)
def test_glib_escapes(raw: str, value: str) -> None:
    assert unescape(raw) == value


@pytest.mark.parametrize("raw", ["\\x", "a\\;b", "end\\"])
def test_glib_rejects_other_escapes(raw: str) -> None:
    with pytest.raises(ValueSyntaxError):
        unescape(raw)


def test_escape_round_trips() -> None:
    for value in ["  two leading", "tab\there", "back\\slash", "new\nline", "ok"]:
        assert unescape(escape(value)) == value
    items = ["a;b", " c", ""]
    assert unescape_list(escape_list(items)) == items


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff[connection]\nid=x\n",
        "id=x\n[connection]\n",
        "[connection]\n; comment\n",
        "[connection]\nno equals sign\n",
        "[connection] x\n",
        "[]\n",
        "[connection]\n=value\n",
        "[connection]\nk]=v\n",
    ],
)
def test_glib_syntax_errors(text: str) -> None:
    with pytest.raises(KeyfileSyntaxError) as e:
        Keyfile.parse(text)
    assert e.value.line >= 1


def test_what_glib_accepts() -> None:
    kf = Keyfile.parse("  [connection]  \n\tid = my id \n# c\nk[de]=v\n\n")
    assert kf.get("connection", "id") == "my id "  # trailing space stays, leading goes
    assert kf.keys("connection") == ["id"]  # translations are not keys


@pytest.mark.parametrize(
    ("name", "loaded"),
    [
        ("resin-sample.ignore", False),
        ("README.ignore", False),
        (".hidden", False),
        ("resin-wifi~", False),
        ("ca.pem", False),
        ("cell.modem1", False),  # '.' + 6 letters/digits: a temporary file to NetworkManager
        ("resin-wifi", True),
        ("cellular", True),
        ("my-ethernet.nmconnection", True),
        ("hotspot.conf", True),
    ],
)
def test_file_names_the_os_loads(name: str, loaded: bool) -> None:
    assert is_loaded_by_os(name) is loaded
    assert (why_not_loaded(name) is None) is loaded
