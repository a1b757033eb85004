"""`hil repro`: a field failure reproduced on a matching rig, or on a simulated board.

1. The bundle is read and checked (`hil bundle check`): what is wrong with its
   files is known before any board is touched; its known failure signatures
   are shown first.
2. A target is chosen: the lab's board named with `--board`, or the lab's
   board that matches the device (device type, modem model, OS release);
   with none, a simulated board built from the bundle (`hil.repro.simlab`).
3. The bundle's files go to the target's boot partition: a simulated board is
   flashed with the bundle's OS release and files (`hil flash` does the same
   on a rig whose OS release differs; on one that runs the release already,
   the files are written through the console by `hil.board.files`), then it
   boots.
   A simulated board also gets the lab faults of the failure signatures the
   logs show (`--no-triage-faults` leaves them off): what the field's
   surroundings did, the simulator does.
4. The bundle's own check runs first (does each of its connections come up,
   `hil.repro.bundle_suite`), then the suites that cover what the bundle
   configures (`hil.repro.configured.areas`), with `--outcomes`.
5. The report (`report.txt`, `outcomes.json`, the transcripts) lands in the
   output directory; secrets of the bundle never reach it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hil.board import Board
from hil.bootfs import BootFile, collect_boot_files
from hil.errors import ConfigError, HarnessError
from hil.lab.models import BoardConfig, LabConfig
from hil.lab.secrets import REDACTOR
from hil.repro.bundle import CONFIG_JSON, CONNECTIONS, DISPATCHER, PROXY, Bundle, extracted
from hil.repro.check import BundleReport, check_bundle, describe
from hil.repro.configured import areas
from hil.repro.secrets import bundle_secrets
from hil.repro.simlab import build_sim_lab
from hil.suites import suite_files, suites_dir

Note = Callable[[str], None]
BUNDLE_SUITE = Path(__file__).with_name("bundle_suite.py")


@dataclass
class Target:
    """Where the repro runs: a board of a lab, and why it was chosen."""

    lab: LabConfig
    board: BoardConfig
    why: str
    built: bool  # a simulated board built from the bundle
    lab_yaml: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: what the simulated board assumed where device.yaml is silent
    assumptions: list[str] = field(default_factory=list)


@dataclass
class ReproResult:
    check: BundleReport
    target: Target
    outcomes: dict[str, dict[str, str]]
    areas: list[str]
    out_dir: Path

    @property
    def red(self) -> dict[str, dict[str, str]]:
        return {k: v for k, v in self.outcomes.items() if v["outcome"] in ("failed", "broken")}

    def lines(self) -> list[str]:
        out = [f"bundle {self.check.bundle.source}: {describe(self.check.bundle)}"]
        if self.check.findings:
            out.append("known failure signatures in the logs:")
            out += [f"  {f}" for f in self.check.findings]
        problems = [line for r in [*self.check.files, self.check.device] for line in r.lines()]
        if problems:
            out.append("bundle check:")
            out += [f"  {p}" for p in problems]
        out.append(f"target: {self.target.board.name} — {self.target.why}")
        out += [f"  assumed: {a}" for a in self.target.assumptions]
        out.append(f"suites: bundle connections, {', '.join(self.areas) or 'none'}")
        order = {"failed": 0, "broken": 1, "passed": 2, "skipped": 3}
        for nodeid, v in sorted(
            self.outcomes.items(), key=lambda kv: (order[kv[1]["outcome"]], kv[0])
        ):
            reason = _reason(v) if v["outcome"] != "passed" else ""
            out.append(f"  {v['outcome'].upper():8} {_short(nodeid)}{reason}")
        verdict = (
            f"reproduced: {len(self.red)} test(s) red"
            if self.red
            else "not reproduced: every test passed or skipped"
        )
        out.append(verdict)
        out.append(f"report: {self.out_dir}")
        return out


def _reason(outcome: dict[str, str]) -> str:
    """The failure's message, without pytest's `path:line: AssertionError:` prefix."""
    text = outcome["reason"]
    _, sep, message = text.partition("Error: ")
    return f" — {message if sep else text}" if text else ""


def _short(nodeid: str) -> str:
    path, _, rest = nodeid.partition("::")
    area = Path(path).stem.removeprefix("test_")
    if Path(path).name == BUNDLE_SUITE.name:
        area = "bundle"
    return f"{area}: {rest}"


# -- choosing a target --------------------------------------------------------------
def _release_of(board: BoardConfig) -> str | None:
    return board.os_release or (board.sim.os_release if board.sim else None)


def matches(bundle: Bundle, board: BoardConfig) -> list[str]:
    """What of the device `board` lacks (empty: it matches, OS release aside)."""
    d = bundle.device
    missing = []
    if board.device_type != d.device_type:
        missing.append(f"device type {board.device_type}, not {d.device_type}")
    models = {m.model.lower() for m in board.modems}
    for m in d.modems:
        if m.model.lower() not in models and not any(
            m.model.lower() in x or x in m.model.lower() for x in models
        ):
            missing.append(f"no modem {m.model}")
    return missing


def triage_faults(report: BundleReport) -> list[str]:
    """The lab faults of the failure signatures found in the bundle's logs."""
    from hil.lab.faults import FAULTS

    found = [f.signature.fault for f in report.findings if f.signature.fault in FAULTS]
    return sorted({f for f in found if f is not None})


def choose_target(
    bundle: Bundle,
    lab: LabConfig | None,
    board_name: str | None,
    lab_path: str | None,
    faults: list[str] | None = None,
) -> Target:
    if lab is not None:
        if board_name:
            try:
                board = lab.board(board_name)
            except KeyError:
                names = ", ".join(b.name for b in lab.boards)
                raise ConfigError(
                    f"{lab_path}: no board named {board_name!r} (boards: {names})"
                ) from None
            lacking = matches(bundle, board)
            why = f"board {board.name} of {lab_path}, as asked"
            if lacking:
                why += f" (it differs: {'; '.join(lacking)})"
            return Target(lab, board, why, built=False)
        for board in lab.boards:
            if not matches(bundle, board):
                return Target(lab, board, f"matching board of {lab_path}", built=False)
    sim = build_sim_lab(bundle, faults)
    why = "a simulated board built from the bundle (same OS release, modems, networks)"
    if lab is not None:
        why += f"; no board of {lab_path} matches"
    text, env = sim.to_yaml()
    return Target(
        sim.lab, sim.board, why, built=True, lab_yaml=text, env=env, assumptions=sim.assumptions
    )


# -- applying the files --------------------------------------------------------------
def boot_files(root: Path) -> list[BootFile]:
    """The bundle's files (extracted under `root`) as checked boot-partition files."""
    conns = sorted((root / CONNECTIONS).glob("*")) if (root / CONNECTIONS).is_dir() else []
    return collect_boot_files(
        connections=[p for p in conns if p.is_file()],
        config_json=root / CONFIG_JSON if (root / CONFIG_JSON).is_file() else None,
        redsocks_conf=_if_file(root / PROXY / "redsocks.conf"),
        no_proxy=_if_file(root / PROXY / "no_proxy"),
        dispatchers=sorted(p for p in (root / DISPATCHER).glob("*") if p.is_file())
        if (root / DISPATCHER).is_dir()
        else [],
    )


def _if_file(p: Path) -> Path | None:
    return p if p.is_file() else None


def apply_files(board: Board, release: str, files: list[BootFile], note: Note) -> None:
    """Put `files` in the board's boot partition, on `release`, and boot it."""
    from hil.flash import wait_for_release
    from hil.flash.flasher import flash_sim

    if board.config.is_sim:
        note(f"flashing {board.name} (simulated) with balenaOS {release} and the bundle's files")
        flash_sim(board, release, files)
        wait_for_release(board, release, board.config.flash.boot_timeout)
        return
    if _release_of(board.config) == release:
        from hil.board.files import BootFileWriter

        note(f"writing the bundle's files to {board.name}'s boot partition, then rebooting")
        with board.open_shell() as shell:
            BootFileWriter(shell).write(files)
        board.power_cycle()
        return
    from hil.flash.flasher import write_release

    note(f"flashing {board.name} with balenaOS {release} and the bundle's files")
    write_release(board, release, files, None, lambda msg, frac: note(msg))
    wait_for_release(board, release, board.config.flash.boot_timeout)


@contextlib.contextmanager
def _served(target: Target, sim_dir: Path) -> Iterator[None]:
    """Serve the target's simulated boards from this process for the run's pytest."""
    from hil.sim.server import serving

    if not target.board.is_sim:
        yield
        return
    with serving(target.lab, sim_dir):
        yield


# -- the run -----------------------------------------------------------------------
def repro(
    bundle: Bundle,
    *,
    lab: LabConfig | None = None,
    lab_path: str | None = None,
    board: str | None = None,
    out_dir: Path,
    note: Note = lambda msg: None,
    timeout: float = 1800,
    triage_as_faults: bool = True,
    suites: list[str] | None = None,
) -> ReproResult:
    """Reproduce the bundle's failure; see the module docstring. With
    `triage_as_faults`, a simulated board gets the lab faults of the failure
    signatures its logs show (a DHCP server that never answered, a modem stuck
    in storage mode): the surroundings as they were in the field. `suites`
    overrides the areas that cover the bundle (`[]`: the bundle's own check only)."""
    REDACTOR.add_all(bundle_secrets(bundle))
    report = check_bundle(bundle)
    faults = triage_faults(report) if triage_as_faults else []
    target = choose_target(bundle, lab, board, lab_path, faults)
    suite_areas = areas(bundle) if suites is None else list(suites)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes_path = out_dir / "outcomes.json"
    outcomes_path.unlink(missing_ok=True)
    with extracted(bundle) as root, tempfile.TemporaryDirectory(prefix="hil-repro-") as tmp:
        files = boot_files(root)
        env = {**os.environ, **target.env, "HIL_REPRO_BUNDLE": str(root)}
        if target.built:
            lab_file = Path(tmp) / "lab.yaml"
            lab_file.write_text(target.lab_yaml or "")
            (out_dir / "lab.yaml").write_text(target.lab_yaml or "")  # secrets as ${env:}
            lab_arg = str(lab_file)
        else:
            assert lab_path is not None
            lab_arg = lab_path
        sim_dir = Path(tmp) / "sim"
        with _served(target, sim_dir):
            if target.board.is_sim:
                env["HIL_SIM_DIR"] = str(sim_dir)
            b = Board(target.lab, target.board)
            apply_files(b, bundle.device.os_release, files, note)
            note(f"running the bundle's connections and the suites: {', '.join(suite_areas)}")
            own = [BUNDLE_SUITE] if bundle.connections() else []
            _run_pytest(
                lab_arg,
                target.board.name,
                [*own, *(suite_files(suite_areas) if suite_areas else [])],
                outcomes_path,
                out_dir,
                env,
                timeout,
            )
    outcomes = json.loads(outcomes_path.read_text()) if outcomes_path.exists() else {}
    result = ReproResult(report, target, outcomes, suite_areas, out_dir)
    (out_dir / "report.txt").write_text(REDACTOR.redact("\n".join(result.lines()) + "\n"))
    return result


def _run_pytest(
    lab: str,
    board: str,
    files: list[Path],
    outcomes: Path,
    out_dir: Path,
    env: dict[str, str],
    timeout: float,
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--tb=line",
        f"--rootdir={suites_dir().parent}",
        f"--lab={lab}",
        f"--board={board}",
        f"--outcomes={outcomes}",
        f"--transcripts={out_dir / 'transcripts'}",
        *map(str, files),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"hil repro: the suites did not finish within {timeout:g}s") from None
    (out_dir / "pytest.log").write_text(REDACTOR.redact(proc.stdout + proc.stderr))
    if proc.returncode not in (0, 1, 5) or not outcomes.exists():
        said = (proc.stdout + proc.stderr).strip().splitlines()
        errors = [line for line in said if line.startswith(("E ", "ERROR", "Empty parameter"))]
        tail = REDACTOR.redact((errors or said or [""])[-1].strip())
        raise HarnessError(
            f"hil repro: the suites did not run (pytest exit {proc.returncode}): {tail} "
            f"(see {out_dir / 'pytest.log'})"
        )
