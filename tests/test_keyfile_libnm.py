"""Differential test: `hil.netconfig.validate` against libnm itself.

libnm runs in a subprocess of Debian's /usr/bin/python3 (tests/support/
libnm_oracle.py, which loads each file as NetworkManager's keyfile plugin
does). Over the corpus (fixtures/keyfiles/corpus/) and the doc's examples:

- hil must reject every file libnm rejects or loads with a dropped entry;
- where hil is stricter than libnm, the file and the reason are listed in
  fixtures/keyfiles/libnm-verdicts.json ("hil_stricter"), so every
  disagreement is visible and intended;
- libnm's verdicts recorded in that file must be what libnm says today.

Re-record after changing the corpus:
    .venv/bin/python -m tests.test_keyfile_libnm --record
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from hil.netconfig import validate

REPO = Path(__file__).resolve().parent.parent
KEYFILES = REPO / "fixtures" / "keyfiles"
ORACLE = REPO / "tests" / "support" / "libnm_oracle.py"
RECORD = KEYFILES / "libnm-verdicts.json"
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.real


def corpus_files() -> list[str]:
    """Paths relative to fixtures/keyfiles/: corpus/* and doc/* (not the READMEs)."""
    out = []
    for sub in ("corpus", "doc"):
        for p in sorted((KEYFILES / sub).iterdir()):
            if p.is_file() and p.suffix not in (".md", ".json"):
                out.append(f"{sub}/{p.name}")
    return out


@cache
def libnm_verdicts() -> dict:
    result = subprocess.run(
        [SYSTEM_PYTHON, str(ORACLE), *corpus_files()],
        cwd=KEYFILES,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"libnm oracle failed: {result.stderr}"
    out = json.loads(result.stdout)
    return {"libnm": out["libnm"], "files": {v.pop("file"): v for v in out["verdicts"]}}


def hil_valid(name: str) -> bool:
    return validate((KEYFILES / name).read_bytes(), name).valid


def recorded() -> dict:
    return json.loads(RECORD.read_text())


def test_libnm_is_there() -> None:
    """The oracle really is libnm (the check must not be skipped on CI)."""
    assert libnm_verdicts()["libnm"].startswith("1.")


def test_corpus_is_big_and_has_both_kinds() -> None:
    files = libnm_verdicts()["files"]
    corpus = [f for f in files if f.startswith("corpus/")]
    assert len(corpus) >= 60
    valid = [f for f in corpus if files[f]["verdict"] == "valid"]
    invalid = [f for f in corpus if files[f]["verdict"] == "invalid"]
    assert len(valid) >= 20, valid
    assert len(invalid) >= 40, invalid
    stages = {files[f]["stage"] for f in invalid}
    # rejected at load, by verify, by verify_secrets, and loaded with dropped entries
    assert {"load", "normalize", "secrets", "dropped"} <= stages


def test_recorded_verdicts_are_libnms() -> None:
    live = libnm_verdicts()["files"]
    rec = recorded()["files"]
    assert set(rec) == set(live), "corpus changed: re-record (see module docstring)"
    diff = {f: (rec[f], live[f]) for f in live if rec[f]["verdict"] != live[f]["verdict"]}
    assert not diff


def test_hil_rejects_everything_libnm_rejects() -> None:
    accepted = [
        f"{name}: libnm {v['stage']}: {v['messages'][:1]}"
        for name, v in libnm_verdicts()["files"].items()
        if v["verdict"] == "invalid" and hil_valid(name)
    ]
    assert not accepted, "hil accepts files libnm rejects:\n" + "\n".join(accepted)


def test_hil_stricter_only_where_documented() -> None:
    stricter = {
        name
        for name, v in libnm_verdicts()["files"].items()
        if v["verdict"] == "valid" and not hil_valid(name)
    }
    documented = recorded()["hil_stricter"]
    assert stricter == set(documented)
    assert all(reason.strip() for reason in documented.values())


def test_corpus_catches_a_syntax_only_checker() -> None:
    """Most libnm-invalid files parse fine: only real rules catch them."""
    from hil.netconfig import Keyfile

    parseable_but_invalid = []
    for name, v in libnm_verdicts()["files"].items():
        if v["verdict"] != "invalid":
            continue
        try:
            Keyfile.parse((KEYFILES / name).read_bytes())
        except ValueError:
            continue
        parseable_but_invalid.append(name)
    assert len(parseable_but_invalid) >= 40


def test_every_doc_example_is_valid_for_both() -> None:
    files = libnm_verdicts()["files"]
    docs = [f for f in files if f.startswith("doc/")]
    assert len(docs) == 8
    for name in docs:
        assert files[name]["verdict"] == "valid", name
        assert hil_valid(name), name


def record() -> None:
    """Write libnm's verdicts, keeping the documented hil_stricter reasons."""
    live = libnm_verdicts()
    stricter = recorded().get("hil_stricter", {}) if RECORD.exists() else {}
    out = {
        "about": "libnm's verdict on each keyfile of the corpus, recorded by "
        "tests/support/libnm_oracle.py; checked live by tests/test_keyfile_libnm.py",
        "libnm": live["libnm"],
        "files": live["files"],
        "hil_stricter": stricter,
    }
    RECORD.write_text(json.dumps(out, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record()
        table = libnm_verdicts()["files"]
        for name, v in table.items():
            hil = "valid" if hil_valid(name) else "invalid"
            print(f"{name:42} libnm={v['verdict']:8} hil={hil}")
