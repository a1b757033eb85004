"""Allure results (one run, or many merged) → `out/report`.

The report directory holds `index.html` (overview and matrix), `matrix.html`,
`matrix.md`, `matrix.json`, and `allure/index.html`: the Allure 3 report built
by the npm package `allure` (installed into the repo by the setup; no Java) as
one self-contained file, so everything opens from `file://`. History and
trends live in the file Allure 3's `historyPath` names, kept between runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hil.errors import ConfigError, HarnessError
from hil.lab.secrets import REDACTOR
from hil.report import categories as cat
from hil.report.environment import environment, read_environment, release_key, write_environment
from hil.report.matrix import Matrix, area_matrix, modem_matrix, totals
from hil.report.render import ALLURE_DIR, matrix_html, matrix_json, matrix_markdown
from hil.report.results import Outcome, latest_attempts, read_results

REPO = Path(__file__).resolve().parents[2]
#: files of a results directory that describe the run rather than a test
_RUN_FILES = {"environment.properties", "categories.json", "executor.json", "history"}
_ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*'
    r"<script>[^<]*gtag\([^<]*</script>",
    re.S,
)
_BACKLINK = (
    '<a id="hil-matrix-link" href="../matrix.html" style="position:fixed;right:16px;'
    "bottom:48px;z-index:2147483647;background:#24292f;color:#fff;padding:7px 12px;"
    'border-radius:6px;font:13px system-ui,sans-serif;text-decoration:none">'
    "Qualification matrix</a>"
)


@dataclass
class Report:
    """What a build produced, for the CLI to print."""

    directory: Path
    outcomes: list[Outcome]
    modems: Matrix
    areas: Matrix

    @property
    def index(self) -> Path:
        return self.directory / "index.html"

    @property
    def counts(self) -> dict[str, int]:
        return totals(self.outcomes)


def allure_command() -> list[str]:
    """The Allure 3 CLI installed into the repo by the setup."""
    cli = REPO / "node_modules" / "allure" / "cli.js"
    if not cli.exists():
        raise HarnessError(
            f"the npm package `allure` is not installed in {REPO} (run `make setup`)"
        )
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise HarnessError("node is not installed (run `make setup`)")
    return [node, str(cli)]


def default_history(labs: list[str]) -> Path:
    """`out/history/<lab>.jsonl`: history is carried between runs of the same lab."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "+".join(sorted(labs)) or "lab")
    return Path("out") / "history" / f"{name}.jsonl"


def build_report(
    results_dirs: list[Path],
    report_dir: Path,
    *,
    history: Path | None = None,
    labs: list[str] | None = None,
    name: str | None = None,
) -> Report:
    """Build the HTML report and the matrix from these results directories."""
    if not results_dirs:
        raise ConfigError("no allure results directory given")
    runs = [read_environment(Path(d)) for d in results_dirs]
    labs = labs or sorted({r["lab"] for r in runs if r.get("lab")})
    hosts = sorted({h.strip() for r in runs for h in r.get("host", "").split(",") if h.strip()})
    outcomes = latest_attempts(read_results(results_dirs))
    modems, areas = modem_matrix(outcomes), area_matrix(outcomes)
    meta = {
        "lab": ", ".join(labs) or "unknown",
        "releases": sorted({o.os_release for o in outcomes}, key=release_key),
        "device_types": sorted({o.device_type for o in outcomes}),
        "boards": sorted({o.board for o in outcomes}),
        "results": [str(d) for d in results_dirs],
    }
    report_dir = Path(report_dir).absolute()
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".hil-report-", dir=report_dir.parent))
    try:
        stage, out = work / "results", work / "report"
        _stage(results_dirs, stage, environment(outcomes, labs, hosts or [socket.gethostname()]))
        _allure_generate(stage, out / ALLURE_DIR, history, name or f"hil — {meta['lab']}")
        count = totals(outcomes)
        (out / "matrix.json").write_text(_safe(matrix_json(modems, areas, meta)), "utf-8")
        (out / "matrix.md").write_text(_safe(matrix_markdown(modems, areas, meta)), "utf-8")
        (out / "matrix.html").write_text(
            _safe(matrix_html(modems, areas, meta, count, index=False)), "utf-8"
        )
        (out / "index.html").write_text(
            _safe(matrix_html(modems, areas, meta, count, index=True)), "utf-8"
        )
        _replace_dir(out, report_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Report(report_dir, outcomes, modems, areas)


def _safe(text: str) -> str:
    return REDACTOR.redact(text)


def _stage(results_dirs: list[Path], stage: Path, props: dict) -> None:
    """One directory with every run's results, and the merged run description."""
    stage.mkdir(parents=True)
    for d in results_dirs:
        for f in Path(d).iterdir():
            if f.name in _RUN_FILES or not f.is_file() or (stage / f.name).exists():
                continue
            try:
                os.link(f, stage / f.name)
            except OSError:
                shutil.copyfile(f, stage / f.name)
    write_environment(stage, props)
    cat.write_categories(stage)


def _allure_config(output: Path, history: Path | None, name: str) -> dict:
    config: dict = {
        "name": name,
        "output": str(output),
        "categories": cat.categories(),
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportLanguage": "en",
                    "groupBy": ["parentSuite", "suite", "subSuite"],
                }
            },
            # the agent plugin writes state for AI agents outside the report: off
            "agent": {"enabled": False},
        },
    }
    if history is not None:
        config["historyPath"] = str(history)
    return config


def _allure_generate(stage: Path, output: Path, history: Path | None, name: str) -> None:
    if history is not None:
        history = history.resolve()
        history.parent.mkdir(parents=True, exist_ok=True)
    config = stage.parent / "allurerc.json"
    config.write_text(json.dumps(_allure_config(output, history, name), indent=2), "utf-8")
    cmd = [*allure_command(), "generate", "--config", str(config), str(stage)]
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    r = subprocess.run(cmd, cwd=stage.parent, capture_output=True, text=True, env=env)
    page = output / "index.html"
    if r.returncode != 0 or not page.exists():
        lines = (r.stderr + r.stdout).strip().splitlines() or ["no output"]
        why = next((ln for ln in lines if "Error" in ln), lines[-1]).strip()
        raise HarnessError(f"allure generate failed (exit {r.returncode}): {_safe(why)}")
    html = _ANALYTICS.sub("", page.read_text(encoding="utf-8"))
    html = html.replace("</body>", _BACKLINK + "</body>", 1)
    page.write_text(html, encoding="utf-8")


def _replace_dir(new: Path, target: Path) -> None:
    """Put the new report in place; the old one goes only once the new one is there."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
