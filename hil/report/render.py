"""The matrix as `matrix.json` (scripts), `matrix.md` (CI comments) and HTML (people).

The HTML pages are static and self-contained (no script, no network), so they
open from `file://`; failing tests link into the Allure report next to them
(`allure/index.html#/<id>`, the id Allure 3 gives a result: md5 of its uuid).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from html import escape

from hil.report.matrix import FAILED, NOT_TESTED, QUALIFIED, Cell, Matrix

ALLURE_DIR = "allure"
_MARK = {QUALIFIED: "✅", FAILED: "❌", NOT_TESTED: "⬜"}


def allure_link(uuid: str, prefix: str = "") -> str:
    """Where a result opens in the Allure 3 report built next to the matrix."""
    return f"{prefix}{ALLURE_DIR}/index.html#/{hashlib.md5(uuid.encode()).hexdigest()}"


def _counts(cell: Cell) -> str:
    return (
        f"{cell.passed} passed, {cell.failed} failed, {cell.broken} broken, {cell.skipped} skipped"
    )


# -- json ------------------------------------------------------------------
def matrix_json(modems: Matrix, areas: Matrix, meta: dict) -> str:
    doc = {
        **meta,
        "verdict_rule": (
            "qualified: at least one test ran and every test that ran passed; failed: any "
            "test failed or broke; not tested: no test ran (skipped tests are not passes)"
        ),
        "modems": modems.to_json(),
        "areas": areas.to_json(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- markdown ----------------------------------------------------------------
def _md_cell(cell: Cell) -> str:
    v = cell.verdict
    return f"{_MARK[v]} {v} ({cell.passed}/{cell.failed}/{cell.broken}/{cell.skipped})"


def _md_table(m: Matrix) -> list[str]:
    lines = []
    for dt in m.device_types:
        rows = m.rows_of(dt)
        if not rows:
            continue
        lines += [f"### {dt}", "", f"| {m.row_name} | " + " | ".join(m.releases) + " |"]
        lines.append("|---" * (len(m.releases) + 1) + "|")
        for row in rows:
            cells = [_md_cell(m.cell(row, rel, dt)) for rel in m.releases]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _md_failures(m: Matrix) -> list[str]:
    lines = []
    for (row, rel, dt), cell in sorted(m.cells.items()):
        for f in cell.failures:
            cat = f" [{f.category}]" if f.category else ""
            msg = f.message.replace("|", "\\|").replace("`", "'")
            lines.append(
                f"- **{row} · {rel} · {dt}** — [`{f.name}`]({allure_link(f.uuid)}) "
                f"{f.status} on {f.board}{cat}: {msg}"
            )
    return lines


def matrix_markdown(modems: Matrix, areas: Matrix, meta: dict) -> str:
    lines = [
        f"# Qualification matrix — {meta.get('lab', '')}",
        "",
        "Verdict per cell: ✅ qualified (tests ran, all passed) · ❌ failed (a test failed "
        "or broke) · ⬜ not tested (no test ran). Counts: passed/failed/broken/skipped; "
        "skips never count as passes.",
        "",
        "## Modem × OS release × device type",
        "",
    ]
    lines += _md_table(modems) if modems.rows else ["No modem test results.", ""]
    lines += ["## Area × OS release × device type", ""]
    lines += _md_table(areas)
    failures = _md_failures(areas)  # every failing test is in exactly one area cell
    if failures:
        lines += ["## Failing tests", "", *failures, ""]
    return "\n".join(lines) + "\n"


# -- html --------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header nav a{color:#9ecbff;margin-right:18px}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:14px 0}
table{border-collapse:collapse;margin:8px 0 14px}
th,td{border:1px solid #d0d7de;padding:6px 10px;vertical-align:top;text-align:left}
th{background:#f0f3f6}
td.qualified{background:#dafbe1}
td.failed{background:#ffebe9}
td.not-tested{background:#f6f8fa;color:#57606a}
.verdict{font-weight:700;display:block;text-transform:uppercase;letter-spacing:.03em}
td.qualified .verdict{color:#1a7f37}
td.failed .verdict{color:#cf222e}
.counts{font-size:12px;color:#57606a}
.fails{margin:4px 0 0;padding-left:16px;font-size:12px}
.totals span{margin-right:16px}
.legend{color:#57606a}
.small{font-size:12px;color:#57606a}
"""


def _html_cell(cell: Cell, row: str, rel: str, dt: str) -> str:
    v = cell.verdict
    klass = v.replace(" ", "-")
    anchor = escape(f"cell-{row}-{rel}-{dt}".replace(" ", "_"), quote=True)
    fails = ""
    if cell.failures:
        items = "".join(
            f'<li><a href="{escape(allure_link(f.uuid), quote=True)}">{escape(f.name)}</a> '
            f"({escape(f.status)}{', ' + escape(f.category) if f.category else ''})</li>"
            for f in cell.failures
        )
        fails = f'<ul class="fails">{items}</ul>'
    return (
        f'<td class="{klass}" id="{anchor}" data-verdict="{escape(v)}">'
        f'<span class="verdict">{escape(v)}</span>'
        f'<span class="counts">{escape(_counts(cell))}</span>{fails}</td>'
    )


def _html_tables(m: Matrix) -> str:
    parts = []
    for dt in m.device_types:
        rows = m.rows_of(dt)
        if not rows:
            continue
        head = "".join(f"<th>OS {escape(rel)}</th>" for rel in m.releases)
        body = ""
        for row in rows:
            label = escape(row)
            extra = ""
            if m.row_name == "modem":
                vids = sorted({v for rel in m.releases for v in m.cell(row, rel, dt).vid_pids})
                extra = f'<div class="small">{escape(", ".join(vids))}</div>' if vids else ""
            cells = "".join(_html_cell(m.cell(row, rel, dt), row, rel, dt) for rel in m.releases)
            body += f"<tr><th>{label}{extra}</th>{cells}</tr>"
        parts.append(
            f"<h3>{escape(dt)}</h3><table><thead><tr><th>{escape(m.row_name)}</th>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(parts)


def matrix_html(modems: Matrix, areas: Matrix, meta: dict, totals: dict, *, index: bool) -> str:
    lab = escape(str(meta.get("lab", "")))
    title = f"hil report — {lab}" if index else f"Qualification matrix — {lab}"
    nav = (
        f'<a href="{ALLURE_DIR}/index.html">All results (Allure report)</a>'
        + (
            '<a href="matrix.html">Matrix page</a>'
            if index
            else '<a href="index.html">Overview</a>'
        )
        + '<a href="matrix.md">matrix.md</a><a href="matrix.json">matrix.json</a>'
    )
    total_line = "".join(f"<span>{escape(k)}: <b>{v}</b></span>" for k, v in totals.items())
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    modem_part = (
        _html_tables(modems) if modems.rows else "<p>No modem test results in this report.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_CSS}</style></head>
<body>
<header><h1>{title}</h1><nav>{nav}</nav></header>
<main>
<section class="totals" id="totals"><b>Results</b> {total_line}
<div class="small">OS releases: {escape(", ".join(meta.get("releases", [])))} · boards:
{escape(", ".join(meta.get("boards", [])))} · generated {generated}</div></section>
<section id="modem-matrix"><h2>Qualification matrix: modem × OS release × device type</h2>
<p class="legend"><b>qualified</b>: tests ran and all passed · <b>failed</b>: a test failed or
broke · <b>not tested</b>: no test ran. Skipped tests are counted, never taken as passes.</p>
{modem_part}</section>
<section id="area-matrix"><h2>By area: area × OS release × device type</h2>
{_html_tables(areas)}</section>
</main></body></html>
"""
