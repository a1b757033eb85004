"""`hil image inject|ls|cat` through the installed CLI, as DESIGN.md's contract says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.bootfs_images import MiB, digest, fsck, label, make_image, mtools, mtype, offset_of, put

pytestmark = pytest.mark.real

WIFI = "[connection]\nid=resin-wifi\ntype=wifi\n\n[wifi]\nssid=hil-lab\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=hil-lab-passphrase\n"
REDSOCKS = 'base {\nlog = "syslog:local7";\ndaemon = off;\nredirector = iptables;\n}\n\nredsocks {\ntype = socks5;\nip = 10.0.0.1;\nport = 8123;\nlocal_ip = 127.0.0.1;\nlocal_port = 12345;\n}\n'


def hil(hil_cmd: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*hil_cmd, "image", *args], capture_output=True, timeout=60)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "in"
    d.mkdir()
    files = {
        "resin-wifi": WIFI,
        "my-ethernet.nmconnection": "[connection]\nid=my-ethernet\ntype=ethernet\ninterface-name=eth0\n\n[ipv4]\nnever-default=true\nroute-metric=2000\nmethod=auto\n",
        "config.json": json.dumps({"country": "GB", "dnsServers": "1.1.1.1 9.9.9.9"}),
        "redsocks.conf": REDSOCKS,
        "no-proxy.txt": "10.0.0.0/8\n192.168.1.5\n",
        "10-log-up": '#!/bin/sh\nlogger "$1 $2"\n',
    }
    for name, text in files.items():
        (d / name).write_text(text)
    return {name: d / name for name in files}


def test_inject_puts_every_kind_of_file_where_the_doc_says(tmp_path: Path, hil_cmd, inputs) -> None:
    img = make_image(tmp_path / "balena.img")
    off = offset_of(img, 1)
    existing = tmp_path / "existing.json"
    existing.write_text(json.dumps({"deviceType": "raspberrypi4-64", "hostname": "pi"}))
    put(img, off, existing, "config.json")
    r = hil(
        hil_cmd, "inject", str(img),
        "--connection", str(inputs["resin-wifi"]),
        "--connection", str(inputs["my-ethernet.nmconnection"]),
        "--config-json", str(inputs["config.json"]),
        "--redsocks-conf", str(inputs["redsocks.conf"]),
        "--no-proxy", str(inputs["no-proxy.txt"]),
        "--dispatcher", str(inputs["10-log-up"]),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert mtype(img, off, "system-connections/resin-wifi").decode() == WIFI
    assert b"route-metric=2000" in mtype(img, off, "system-connections/my-ethernet.nmconnection")
    assert json.loads(mtype(img, off, "config.json")) == {
        "deviceType": "raspberrypi4-64",
        "hostname": "pi",
        "country": "GB",
        "dnsServers": "1.1.1.1 9.9.9.9",
    }
    assert mtype(img, off, "system-proxy/redsocks.conf").decode() == REDSOCKS
    assert mtype(img, off, "system-proxy/no_proxy") == b"10.0.0.0/8\n192.168.1.5\n"
    assert mtype(img, off, "dispatcher.d/10-log-up").startswith(b"#!/bin/sh")
    assert fsck(img, off, 40 * MiB, tmp_path).returncode == 0
    assert label(img, off) == "resin-boot"
    assert r.stderr == b""


def test_ls_and_cat(tmp_path: Path, hil_cmd, inputs) -> None:
    img = make_image(tmp_path / "a.img", "gpt")
    r = hil(hil_cmd, "inject", str(img), "--connection", str(inputs["resin-wifi"]),
            "--no-proxy", str(inputs["no-proxy.txt"]))  # fmt: skip
    assert r.returncode == 0, r.stderr
    off = offset_of(img, 1)
    mtools("mmd", img, off, "::/overlays")
    r = hil(hil_cmd, "ls", str(img))
    assert r.returncode == 0 and r.stdout == b"overlays/\nsystem-connections/\nsystem-proxy/\n"
    r = hil(hil_cmd, "ls", str(img), "system-connections")
    assert r.stdout == b"resin-wifi\n"
    r = hil(hil_cmd, "ls", str(img), "overlays")
    assert r.returncode == 0 and r.stdout == b""
    r = hil(hil_cmd, "cat", str(img), "system-connections/resin-wifi")
    assert r.returncode == 0 and r.stdout == WIFI.encode()
    assert b"\r" not in r.stdout


def test_cat_is_byte_exact(tmp_path: Path, hil_cmd) -> None:
    img = make_image(tmp_path / "a.img")
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 40 + b"\r\n\x00end")
    put(img, offset_of(img, 1), blob, "blob.bin")
    r = hil(hil_cmd, "cat", str(img), "blob.bin")
    assert r.returncode == 0 and r.stdout == blob.read_bytes()


def _one_line_failure(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode != 0
    err = r.stderr.decode()
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--connection", "{missing}"], ["no such connection file"]),
        (["--connection", "{dir}"], ["is a directory"]),
        (["--config-json", "{bad_json}"], ["bad.json: line 1: not valid JSON"]),
        (["--config-json", "{list_json}"], ["expected a JSON object"]),
        (
            ["--config-json", "{lower_country}"],
            ["country.json: line 1: country: expected a two-letter"],
        ),
        (
            ["--connection", "{short_psk}"],
            ["short-psk: line 10: [wifi-security] psk: expected 8 to 63"],
        ),
        (["--no-proxy", "{bad_no_proxy}"], ["no_proxy: line 2: proxy.example.com"]),
        (["--redsocks-conf", "{daemon_on}"], ["redsocks.conf", "daemon"]),
        (
            ["--connection", "{wifi}", "--redsocks-conf", "{missing}"],
            ["no such redsocks.conf file"],
        ),
        (["--connection", "{bom}"], ["byte-order mark"]),
        (["--connection", "{latin1}"], ["not UTF-8"]),
        (["--dispatcher", "{no_shebang}"], ["does not start with #!"]),
        (["--connection", "{colon}"], ["FAT cannot store"]),
        (["--connection", "{wifi}", "--connection", "{wifi_upper}"], ["FAT names ignore case"]),
        ([], ["nothing to inject"]),
    ],
)
def test_bad_input_is_one_line_and_image_unchanged(
    tmp_path: Path, hil_cmd, inputs, args, needles
) -> None:
    img = make_image(tmp_path / "a.img")
    d = tmp_path / "bad"
    d.mkdir()
    paths = {
        "missing": d / "nope",
        "dir": d,
        "bad_json": d / "bad.json",
        "list_json": d / "list.json",
        "bom": d / "bom",
        "latin1": d / "latin1",
        "no_shebang": d / "script",
        "colon": d / "a:b",
        "wifi": inputs["resin-wifi"],
        "wifi_upper": d / "RESIN-WIFI",
        "lower_country": d / "country.json",
        "short_psk": d / "short-psk",
        "bad_no_proxy": d / "no_proxy",
        "daemon_on": d / "redsocks.conf",
    }
    (d / "country.json").write_text('{"country": "gb"}')
    (d / "short-psk").write_text(WIFI.replace("psk=hil-lab-passphrase", "psk=short"))
    (d / "no_proxy").write_text("10.0.0.0/8\nproxy.example.com\n")
    (d / "redsocks.conf").write_text(REDSOCKS.replace("daemon = off", "daemon = on"))
    (d / "bad.json").write_text('{"country": GB}')
    (d / "list.json").write_text("[]")
    (d / "bom").write_bytes(b"\xef\xbb\xbf" + WIFI.encode())
    (d / "latin1").write_bytes("ssid=caf\u00e9\n".encode("latin-1"))
    (d / "script").write_text("logger hi\n")
    (d / "a:b").write_text(WIFI)
    (d / "RESIN-WIFI").write_text(WIFI)
    before = digest(img)
    r = hil(hil_cmd, "inject", str(img), *(a.format(**paths) for a in args))
    _one_line_failure(r, *needles)
    assert r.returncode == 2
    assert digest(img) == before


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_bytes(b"hello"), "not a disk image"),
        (lambda p: make_image(p, "nofat"), "no FAT partition"),
        (lambda p: None, "no such image"),
    ],
)
def test_bad_images_are_one_line(tmp_path: Path, hil_cmd, inputs, make, needle) -> None:
    img = tmp_path / "x.img"
    make(img)
    before = digest(img) if img.exists() else None
    for args in (
        ["inject", str(img), "--connection", str(inputs["resin-wifi"])],
        ["ls", str(img)],
        ["cat", str(img), "config.json"],
    ):
        r = hil(hil_cmd, *args)
        _one_line_failure(r, str(img), needle)
    assert (digest(img) if img.exists() else None) == before


def test_too_large_is_one_line_and_image_unchanged(tmp_path: Path, hil_cmd) -> None:
    img = make_image(tmp_path / "a.img", "tiny")
    big = tmp_path / "big-wifi"
    big.write_text("#" * (2 * MiB) + "\n" + WIFI)  # valid, but a 2 MiB comment
    before = digest(img)
    r = hil(hil_cmd, "inject", str(img), "--connection", str(big))
    _one_line_failure(r, "no room", "image unchanged")
    assert digest(img) == before


def test_missing_file_in_image_is_one_line(tmp_path: Path, hil_cmd) -> None:
    img = make_image(tmp_path / "a.img")
    _one_line_failure(hil(hil_cmd, "cat", str(img), "config.json"), "no such file")
    _one_line_failure(hil(hil_cmd, "ls", str(img), "system-connections"), "no such file")


def test_devices_and_directories_are_not_images(tmp_path: Path, hil_cmd) -> None:
    _one_line_failure(hil(hil_cmd, "ls", "/dev/null"), "/dev/null: not a disk image file")
    _one_line_failure(hil(hil_cmd, "ls", str(tmp_path)), "is a directory, not a disk image")


def test_image_commands_start_light(tmp_path: Path) -> None:
    """`hil image ls|cat` load neither the lab config's nor netconfig's pydantic models
    (start-up is most of an injection's time: bench/bootfs.py)."""
    import sys

    img = make_image(tmp_path / "a.img")
    probe = (
        "import sys; from hil.cli.main import main; "
        f"main(['image', 'ls', {str(img)!r}]); "
        "print(sorted(m for m in ('hil.lab.models', 'hil.netconfig', 'hil.cli.run_cmd') "
        "if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "[]"
