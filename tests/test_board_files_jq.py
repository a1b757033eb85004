"""The sim board's jq (what a live config.json merge runs) against the real jq, byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hil.lab import load_lab
from hil.sim.shell import Shell
from hil.sim.world import World
from tests.conftest import SIM_LAB

CONFIG = {
    "deviceType": "raspberrypi4-64",
    "apiKey": "0123456789abcdef",
    "dnsServers": None,
    "os": {"network": {"connectivity": {"uri": "http://x/", "interval": 3600}}, "keys": [1, "two"]},
    "unicode": "café",
    "empty": {},
    "list": [],
}
PATCH = {"os": {"network": {"wifi": {"randomMacAddressScan": True}}, "keys": []}, "country": "GB"}


@pytest.fixture
def sim(tmp_path: Path):
    world = World(load_lab(SIM_LAB, env={}).board("pi3-b"))
    world.boot()
    out = bytearray()
    shell = Shell(world, out=out.extend, err=out.extend)
    for name, value in (("a.json", CONFIG), ("b.json", PATCH)):
        text = json.dumps(value)
        world.fs.write(f"/tmp/{name}", text)
        (tmp_path / name).write_text(text)

    def run(line: str) -> tuple[bytes, int]:
        out.clear()
        code = shell.run_line(line)
        return bytes(out), code

    return run


@pytest.mark.real
@pytest.mark.parametrize(
    "args",
    [
        ["-s", ".[0] * .[1]", "a.json", "b.json"],
        ["-s", ".[1] * .[0]", "a.json", "b.json"],
        [".", "a.json"],
        ["-c", ".", "a.json"],
        [".os.network", "a.json"],
        ["-r", ".deviceType", "a.json"],
        [".os.keys[1]", "a.json"],
        [".missing", "a.json"],
        [".dnsServers", "a.json"],
        ["-s", ".[1]", "a.json", "b.json"],
    ],
)
def test_same_output_as_real_jq(sim, tmp_path: Path, args: list[str]) -> None:
    real = subprocess.run(
        ["jq", *args], cwd=tmp_path, capture_output=True, env={"LC_ALL": "C.UTF-8"}
    )
    quoted = " ".join(f"'{a}'" if not a.endswith(".json") else f"/tmp/{a}" for a in args)
    out, code = sim(f"jq {quoted}")
    assert (out, code) == (real.stdout, real.returncode)


@pytest.mark.real
def test_errors_as_real_jq(sim, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"a": ')
    real = subprocess.run(["jq", ".", "bad.json"], cwd=tmp_path, capture_output=True)
    sim_out, sim_code = sim("printf '%s' '{\"a\": ' > /tmp/bad.json; jq . /tmp/bad.json")
    assert sim_code == real.returncode == 4
    assert b"parse error: " in sim_out and real.stderr.startswith(b"parse error: ")
    real = subprocess.run(["jq", ".", "nope.json"], cwd=tmp_path, capture_output=True)
    sim_out, sim_code = sim("jq . /tmp/nope.json")
    assert sim_code == real.returncode == 2
    assert b"Could not open file" in sim_out and b"Could not open file" in real.stderr
    real = subprocess.run(["jq", "-s", ".[0] * .[1]", "a.json", "a.json"], cwd=tmp_path)
    assert real.returncode == 0
    out, code = sim("jq -s '.[0].list * .[1]' /tmp/a.json /tmp/b.json")
    real = subprocess.run(
        ["jq", "-s", ".[0].list * .[1]", "a.json", "b.json"], cwd=tmp_path, capture_output=True
    )
    assert code == real.returncode == 5
    assert b"cannot be multiplied" in out and b"cannot be multiplied" in real.stderr


def test_filters_beyond_the_sim_fail_loudly(sim) -> None:
    out, code = sim("jq 'keys' /tmp/a.json")
    assert code == 3
    assert b"beyond the simulated board's jq" in out
