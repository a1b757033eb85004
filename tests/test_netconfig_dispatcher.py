"""Dispatcher scripts: what NetworkManager's dispatcher can execute (checked with the real shell)."""

from __future__ import annotations

from hil.netconfig import check_boot_file, validate_dispatcher

GOOD = b'#!/bin/sh\ncase "$2" in\n  up) logger "hil: $1 up" ;;\nesac\n'


def test_good_script() -> None:
    report = validate_dispatcher(GOOD, "dispatcher.d/90-hil", mode=0o755)
    assert report.valid and not report.warnings


def test_no_shebang_crlf_bom_and_relative_interpreter() -> None:
    assert not validate_dispatcher(b"echo hi\n", "x").valid
    crlf = validate_dispatcher(GOOD.replace(b"\n", b"\r\n"), "x")
    assert not crlf.valid and "CRLF" in crlf.errors[0].message
    assert not validate_dispatcher(b"\xef\xbb\xbf" + GOOD, "x").valid
    assert not validate_dispatcher(b"#!sh\necho\n", "x").valid


def test_real_shell_finds_syntax_errors() -> None:
    report = validate_dispatcher(b"#!/bin/bash\nif true; then\n  echo\n", "x")
    assert not report.valid
    assert "bash -n" in report.errors[0].message


def test_names_and_modes() -> None:
    assert not validate_dispatcher(GOOD, "dispatcher.d/90-hil~").valid
    assert not validate_dispatcher(GOOD, "dispatcher.d/.hidden").valid
    warnings = validate_dispatcher(GOOD, "x", mode=0o666).warnings
    assert len(warnings) == 2  # not executable, and group/other writable


def test_check_boot_file_dispatches_by_kind() -> None:
    assert check_boot_file("dispatcher", GOOD, "90-hil").valid
    assert not check_boot_file("no_proxy", "nope\n", "no_proxy").valid
    assert check_boot_file("config.json", '{"country": "GB"}', "config.json").valid
    assert not check_boot_file("connection", "[connection]\nid=x\n", "x").valid
