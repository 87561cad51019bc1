"""HTML building blocks of report.html: the page shell, its CSS and JS, escaped tables.

Every piece of text that reaches the page goes through ``esc`` (or is a number we
formatted): run names, paths, space names, reasons and commands are the user's.
"""
from __future__ import annotations

import html
import math
from pathlib import Path


from scalesearch.foundation.atomic import write_atomically
from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.table import missing

PLOTLY_JS = "plotly.min.js"

STATUS_COLOURS = {
    TrialStatus.COMPLETE: "#1f77b4",
    TrialStatus.DUPLICATE: "#9467bd",
    TrialStatus.INFEASIBLE: "#ff7f0e",
    TrialStatus.FAILED: "#d62728",
    TrialStatus.PRUNED: "#7f7f7f",
    TrialStatus.RUNNING: "#17becf",
}

CSS = """
:root { --ink:#1d232a; --muted:#5f6b76; --line:#e3e7eb; --accent:#0b6bcb; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--ink); background:var(--bg); }
main { max-width:1180px; margin:0 auto; padding:24px 20px 64px; }
header h1 { margin:0; font-size:26px; }
header p { margin:4px 0 0; color:var(--muted); }
nav { margin:12px 0 0; font-size:14px; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin:18px 0; }
h2 { margin:0 0 10px; font-size:19px; }
h3 { margin:16px 0 6px; font-size:15px; }
.headline { font-size:22px; margin:0 0 12px; }
.headline b { color:var(--accent); }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(160px,1fr)); gap:10px; margin:10px 0 14px; }
.card { border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:19px; font-variant-numeric:tabular-nums; }
.note { color:var(--muted); font-size:14px; margin:6px 0; }
.warn { background:#fff6e5; border-left:4px solid #f0a020; padding:8px 12px; margin:8px 0; }
.empty, .alert { background:#fdecea; border-left:4px solid #d62728; padding:10px 14px; font-size:17px; }
table { border-collapse:collapse; font-size:13px; font-variant-numeric:tabular-nums; }
th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { background:#f0f3f6; position:sticky; top:0; }
td.t, th.t { text-align:left; }
tr.winner td { background:#e8f3ff; font-weight:600; }
.scroll { overflow:auto; max-height:640px; border:1px solid var(--line); border-radius:6px; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th[aria-sort=ascending]::after { content:" ▲"; }
table.sortable th[aria-sort=descending]::after { content:" ▼"; }
.badge { display:inline-block; padding:0 7px; border-radius:9px; color:#fff; font-size:12px; }
.up { color:#2e7d32; } .down { color:#c62828; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:3px 16px; margin:0; font-size:14px; }
dt { color:var(--muted); } dd { margin:0; word-break:break-word; }
code { font:13px ui-monospace,SFMono-Regular,Menlo,monospace; background:#f0f3f6; padding:1px 4px; border-radius:4px; }
.plot { min-height:420px; }
"""

# A report mailed or copied without plotly.min.js would show blank plots and no reason: this banner
# (hidden until NO_PLOTLY_JS finds Plotly undefined after the <script src> failed) says why.
NO_PLOTLY_NOTICE = ("The plots need plotly.min.js beside this file; it is missing. Re-create a one-file report "
                    "with <code>scalesearch report RUN_DIR --self-contained</code>.")
NO_PLOTLY_JS = "if (typeof Plotly === 'undefined') { document.getElementById('no-plotly').hidden = false; }"

# Click a header to sort; numbers compare as numbers (each cell's data-v holds the raw value).
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (other) { other.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) { var cell = row.cells[column]; return cell.getAttribute('data-v') || ''; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') { return (x === '') - (y === ''); }  // blanks last either way
        var nx = Number(x), ny = Number(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def number(value, digits: int = 3) -> str:
    """Fixed decimals, or an en dash for a missing value."""
    if missing(value) or math.isinf(value):
        return "–"
    return f"{value:.{digits}f}"


def badge(status) -> str:
    colour = STATUS_COLOURS.get(str(status), "#555")
    return f'<span class="badge" style="background:{colour}">{esc(status)}</span>'


def table(headers: list[str], rows: list[list], *, text_columns=(), sortable=False, row_classes=None, raw=None) -> str:
    """``rows`` hold ready HTML; ``raw`` (same shape) the sort keys; ``text_columns`` align left."""
    head = "".join(f'<th class="{"t" if i in text_columns else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            key = f' data-v="{esc(raw[r][i])}"' if raw is not None else ""
            cells.append(f'<td class="{"t" if i in text_columns else ""}"{key}>{cell}</td>')
        css = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{v}</div></div>' for k, v in items
    ) + "</div>"


def definitions(items: list[tuple[str, str]]) -> str:
    """Key–value pairs; values are ready HTML."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], figures: int, plotly_js: str | None = None) -> str:
    """The whole document; ``figures`` is how many plots it holds (tests compare it with what rendered).

    ``plotly_js``: the library's source to inline (a one-file report), or None to load plotly.min.js
    from beside the page, with a notice that shows when it is missing."""
    links = "".join(f'<a href="#{anchor}">{esc(name)}</a>' for anchor, name, _ in sections)
    body = "".join(section(anchor, name, content) for anchor, name, content in sections)
    if plotly_js is None:
        library = f'<script src="{PLOTLY_JS}"></script>'
        notice = f'<p id="no-plotly" class="alert" hidden>{NO_PLOTLY_NOTICE}</p>'
        check = f"<script>{NO_PLOTLY_JS}</script>"
    else:
        library, notice, check = f"<script>{plotly_js}</script>", "", ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{CSS}</style>
{library}
</head>
<body data-figures="{figures}"><main>
<header><h1>{esc(title)}</h1><p>{subtitle}</p><nav>{links}</nav></header>
{notice}<noscript><p class="alert">The plots need JavaScript, which is off for this page.</p></noscript>
{body}
</main>
{check}
<script>{SORT_JS}</script>
</body></html>
"""


def write_plotly_js(folder: Path) -> Path:
    """plotly.js beside the report, once: reports work offline and stay small (its size: docs/benchmarks.md §9)."""
    from plotly.offline import get_plotlyjs

    path = folder / PLOTLY_JS
    script = get_plotlyjs().encode()
    if not path.exists() or path.stat().st_size != len(script) or path.read_bytes() != script:
        write_atomically(path, script)
    return path
