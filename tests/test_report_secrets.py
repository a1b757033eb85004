"""No secret from the lab config appears anywhere under out/ after a run that tries hard.

The suite below puts the lab's secrets everywhere a secret can leak: console
output and echo, test ids (so transcript file names and result names),
parameters, labels, step names, attachments, captured stdout, assertion
messages and tracebacks. The scan looks at every file name and every byte
under out/, and inside the base64 the single-file Allure report embeds.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from tests.conftest import SIM_LAB
from tests.report_helpers import run_hil, write_suites

ENV_PSK = "psk-Zq81-from-the-environment"
LITERAL_PIN = "pin-7731-written-literally"
LITERAL_EAP = "hil-eap-pass"  # sim.yaml's own literal EAP password

LEAKY_SUITE = """
import os
import allure
import pytest

PSK = os.environ["HIL_TEST_LAB_PSK"]

@pytest.mark.parametrize("word", [PSK])
def test_everything_leaks(board, shell, lab, word):
    pin = lab.boards[0].modems[0].pin
    eap = next(w.password for w in lab.boards[0].wifi if w.password)
    shell.run(f"echo {word} {pin} {eap}")
    print("stdout:", word, pin, eap)
    allure.dynamic.label("secret", word)
    allure.dynamic.parameter("pin", pin)
    with allure.step(f"connect with {word}"):
        allure.attach(f"psk={word} pin={pin}", name=f"keyfile {pin}")
    local_copy = f"{word}/{pin}"
    assert local_copy == "", f"auth failed with psk {word} and pin {pin} ({eap})"
"""


def _lab(tmp: Path) -> Path:
    text = SIM_LAB.read_text()
    text = text.replace(
        "{name: lab-wpa2, ssid: hil-lab, security: wpa-psk, psk: hil-lab-passphrase}",
        '{name: lab-wpa2, ssid: hil-lab, security: wpa-psk, psk: "${env:HIL_TEST_LAB_PSK}"}',
        1,
    )
    text = text.replace("apn: internet}", f"apn: internet, pin: {LITERAL_PIN}}}", 1)
    path = tmp / "secret-lab.yaml"
    path.write_text(text)
    assert LITERAL_PIN in text and "${env:HIL_TEST_LAB_PSK}" in text
    return path


_B64 = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def leaks(root: Path, secrets: list[str]) -> list[str]:
    """Every place under `root` where a secret shows: names, bytes, embedded base64."""
    found = []
    needles = [s.encode() for s in secrets]

    def scan(data: bytes, where: str, depth: int = 0) -> None:
        for s in needles:
            if s in data:
                found.append(f"{where}: {s.decode()}")
        if depth < 2:
            for m in _B64.finditer(data):
                chunk = m.group(0)
                try:
                    decoded = base64.b64decode(chunk + b"=" * (-len(chunk) % 4))
                except (binascii.Error, ValueError):
                    continue
                scan(decoded, f"{where} (base64)", depth + 1)

    for path in sorted(root.rglob("*")):
        for s in secrets:
            if s in str(path.relative_to(root)):
                found.append(f"file name {path}: {s}")
        if path.is_file():
            scan(path.read_bytes(), str(path))
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    secret = "s3cret-value"
    (tmp_path / "plain.txt").write_text(f"x {secret} y")
    embedded = base64.b64encode(f'{{"output": "{secret}"}}'.encode()).decode()
    (tmp_path / "report.html").write_text(f'<script src="data:text/javascript;base64,{embedded}">')
    (tmp_path / f"t_{secret}.log").write_text("")
    found = leaks(tmp_path, [secret])
    assert len(found) == 3, found


def test_no_secret_under_out(hil_cmd, tmp_path: Path) -> None:
    suites = write_suites(tmp_path / "suites", wifi=LEAKY_SUITE)
    r = run_hil(
        hil_cmd,
        tmp_path,
        "run",
        "--lab",
        str(_lab(tmp_path)),
        suites=suites,
        env={"HIL_TEST_LAB_PSK": ENV_PSK},
    )
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr  # the test fails, on purpose
    out = tmp_path / "out"
    assert (out / "report/index.html").exists() and (out / "history").is_dir()
    assert any((out / "transcripts").rglob("*.log"))
    assert not leaks(out, [ENV_PSK, LITERAL_PIN, LITERAL_EAP])
    said = r.stdout + r.stderr  # what a CI log of the run keeps
    assert [s for s in (ENV_PSK, LITERAL_PIN, LITERAL_EAP) if s in said] == [], said[-3000:]
    # and the secrets were there to leak: masked where they would have been
    results = "".join(p.read_text() for p in (out / "allure-results").glob("*-result.json"))
    assert "auth failed with psk ******" in results
    transcripts = "".join(p.read_text() for p in (out / "transcripts").rglob("*.log"))
    assert "echo ****** ****** ******" in transcripts
