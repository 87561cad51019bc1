"""report.html: one offline page from a run folder's results table and run.json alone.

Sections: summary, learning curves, Pareto fronts, search space, progress, extrapolation to
B0..B7, the sortable trials table, provenance. plotly.js is written once beside
the page, or inlined in it with ``self_contained`` (a file to mail on its own);
never a CDN. Needs no search code: ``import scalesearch.report.write`` loads neither
Ray nor Optuna.
"""
from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path

import numpy as np
import pandas as pd
from plotly.offline import get_plotlyjs

from scalesearch import __version__
from scalesearch.foundation.formatting import human
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.atomic import write_atomically
from scalesearch.runs.coefficients import read_document, write_document
from scalesearch.foundation.run_files import WINNER_JSON
from scalesearch.runs.export import document_matches, winner_document
from scalesearch.report.figures import extrapolation_figure, pareto_figure, progress_figure, space_figure
from scalesearch.foundation.table import missing
from scalesearch.report.page import badge, definitions, esc, number, page, table, write_plotly_js
from scalesearch.report.learning import learning_section
from scalesearch.report.stages import curve_section, fidelity_section
from scalesearch.report.summary import describe, duration, summary_section, wall_seconds
from scalesearch.foundation.table import COLUMNS
from scalesearch.runs.winner import pick_winner
from scalesearch.runs.folder import Run, read_run
from scalesearch.verdict.verdict import decide
from scalesearch.foundation.run_files import REPORT_HTML

PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def write_report(run_dir: str | Path, out: str | Path | None = None, *, self_contained: bool = False) -> Path:
    """Write the report of ``run_dir`` (default ``RUN_DIR/report.html``) and plotly.min.js beside it,
    or with ``self_contained`` one page that holds plotly.js itself (its size: docs/benchmarks.md §9)."""
    run = read_run(run_dir)
    out = Path(out) if out is not None else run.path / REPORT_HTML
    winner = pick_winner(run.table, "best", run.tie_break)
    knee = pick_winner(run.table, "knee", run.tie_break)
    figures: list[str] = []

    def plot(figure, div_id: str, missing_text: str) -> str:
        if figure is None:
            return f'<p class="note">{esc(missing_text)}</p>'
        figures.append(div_id)
        return '<div class="plot">' + figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG) + "</div>"

    pareto = (
        plot(pareto_figure(run.table, "flops", "Proxy accuracy against measured FLOPs", "measured FLOPs of the φ=1 proxy network"),
             "fig-pareto-flops", "No trial has both an accuracy and measured FLOPs yet.")
        + plot(pareto_figure(run.table, "latency_ms", "Proxy accuracy against latency", "inference latency at batch 1 (ms)"),
               "fig-pareto-latency", "No trial has a measured latency, so there is no latency plot.")
        + '<p class="note">Filled markers meet the budget, open ones do not; diamonds are reference trials. The green '
          "step line is the Pareto front of the complete, feasible trials. Duplicates sit on the trial they repeat.</p>"
    )
    search_space = plot(space_figure(run.table, run.budget, run.record.constraint, grid_points(run)),
                        "fig-search-space", "No trial has coefficients yet.") + space_note(run)
    progress = plot(progress_figure(run.table), "fig-progress", "No trial completed yet: no progress to plot.")
    extrapolation_title, extrapolation = extrapolation_section(run, winner, plot)
    verdict = decide(run.table, run.tie_break, run.looks) if winner is not None else None
    after_search = [(anchor, title, body) for anchor, title, body in (
        ("learning", "Learning curves", learning_section(run, verdict, plot)),
        ("curve", "Scaling curve (the paper's Figure 3)", curve_section(run.path, plot)),
        ("fidelity", "Fidelity check", fidelity_section(run.path)),
    ) if body is not None]
    sections = [
        ("summary", "Summary", summary_section(run, winner, knee)),
        *after_search,
        ("pareto", "Pareto front", pareto),
        ("space", "Search space", search_space),
        ("progress", "Progress", progress),
        ("extrapolation", extrapolation_title, extrapolation),
        ("trials", "Trials", trials_table(run.table, winner)),
        ("provenance", "Provenance", provenance(run)),
    ]
    record = run.record
    facts = [record.space or "unknown space", f"budget {run.budget:g}×" if run.budget else "budget unknown",
             f"{record.sampler or 'unknown'} sampler", record.status or "status unknown", str(run.path)]
    subtitle = " · ".join(esc(fact) for fact in facts)
    document = page(f"scalesearch report — {run.name}", subtitle, sections, len(figures),
                    get_plotlyjs() if self_contained else None)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if not self_contained:
            write_plotly_js(out.parent)
        write_atomically(out, document)
    except OSError as error:
        raise InputError(f"cannot write the report to {out}: {error.strerror or error}") from error
    return out


def _or(value, default):
    """``value``, or ``default`` where run.json lacks it (None)."""
    return default if value is None else value


def grid_points(run: Run) -> np.ndarray | None:
    """The grid points the run's grid search walked, as the study decides them (``feasible_grid``): (α, β, γ) in
    formula mode, (α, β, 1) in measured mode, where γ is solved per pair. Empty when no point is feasible."""
    if run.record.sampler != "grid":
        return None
    from scalesearch.study.feasibility import feasible_grid
    from scalesearch.study.samplers import GridSpec

    grid, default = run.record.grid or {}, GridSpec()
    spec = GridSpec(tuple(grid.get("alpha_range", default.alpha_range)), tuple(grid.get("beta_range", default.beta_range)),
                    tuple(grid.get("gamma_range", default.gamma_range)), float(grid.get("step", default.step)))
    if run.budget is None:
        return None
    try:
        points = feasible_grid(spec, budget=run.budget, tolerance=float(_or(run.record.tolerance, 0.1)),
                               constraint=run.record.constraint or "measured", seed=0)
    except InputError:
        return np.empty((0, 3))
    return np.asarray([(alpha, beta, 1.0 if gamma is None else gamma) for alpha, beta, gamma in points], float)


def space_note(run: Run) -> str:
    constraint = run.record.constraint or "unknown"
    text = (f"Constraint: <b>{esc(constraint)}</b>, tolerance {esc(_or(run.record.tolerance, 'unknown'))}. Under the dashed curve "
            "α·β² is below the budget, so some γ ≥ 1 brings α·β²·γ² to it. ")
    if constraint == "measured":
        text += "In measured mode γ is the effective resolution ratio solved so that the measured FLOPs meet the budget. "
    grid = run.record.grid
    if isinstance(grid, dict):
        text += "Grid: " + describe({k: v for k, v in grid.items() if k != "points"}) + "."
    return f'<p class="note">{text}</p>'


def winner_coefficients(run: Run, winner: pd.Series) -> tuple[dict, str]:
    """The winner's B0..B7: RUN_DIR/winner.json when it holds this winner (with the φ it was exported with), else
    B0..B7 measured now (and cached there)."""
    path = run.path / WINNER_JSON
    if path.exists():
        try:
            document = read_document(path)
        except InputError:
            document = None
        if document is not None and document_matches(document, run, winner):
            return document, f"from {esc(path)}"
    start = time.perf_counter()
    document = winner_document(run, winner, "best")
    source = f"counted now in {time.perf_counter() - start:.1f} s (arithmetic, the B1 cross-checked by fvcore)"
    if not path.exists():  # never replace an export the user made (it may hold the knee)
        try:
            write_document(document, path)
            source += f", saved to {esc(path)}"
        except InputError:
            pass  # a read-only run folder: the report still renders
    return document, source


def extrapolation_section(run: Run, winner: pd.Series | None, plot) -> tuple[str, str]:
    """(the section's title, its body): the networks winner.json lists, B0–B7 unless exported with other φ."""
    title = "Extrapolation to B0–B7"
    if winner is None:
        return title, '<p class="note">No trial completed yet: no winner to extrapolate.</p>'
    try:
        document, source = winner_coefficients(run, winner)
    except InputError as error:
        return title, f'<p class="warn">Cannot extrapolate the winner: {esc(error)}</p>'
    listed = document.get("models") or []  # sorted by φ
    if listed:
        title = f"Extrapolation to {listed[0]['name']}–{listed[-1]['name']}"
    space = document.get("space", "unknown")
    intro = (f'<p class="note">The winner\'s α, β, γ applied to the full <b>{esc(space)}</b> network (not the proxy base): '
             "B<sub>φ</sub> has depth α<sup>φ</sup>, width β<sup>φ</sup> and resolution base × γ<sup>φ</sup>, rounded the official way, "
             f"measured with fvcore at batch 1 for {document.get('num_classes')} classes ({source}).</p>")
    networks = [("searched", model) for model in document["models"]]
    networks += [("official", model) for model in document.get("official", [])]
    rows = []
    for kind, model in networks:
        spec = model.get("spec", {})
        stages = " · ".join(f"{stage['channels']}×{stage['repeats']}" for stage in model["stages"])
        rows.append([
            f"{esc(model['name'])} <small>{kind}</small>", esc(model["phi"]), number(model["width"]), number(model["depth"]),
            esc(model["resolution"]), human(model["flops"]), f"{model['flops_ratio']:.2f}×", human(model["params"]),
            human(model["activations"]), esc(spec.get("stem", {}).get("channels", "–")), stages,
            esc(spec.get("head_channels") or "–"),
        ])
    headers = ["network", "φ", "width", "depth", "px", "FLOPs", "× B0", "params", "activations", "stem",
               "stages (channels × blocks)", "head"]
    return title, (intro + plot(extrapolation_figure(document), "fig-extrapolation", "")
                   + "<h3>Each network's stages</h3>" + '<div class="scroll">'
                   + table(headers, rows, text_columns=(0, 10)) + "</div>")


BIG = {"flops", "params", "activations", "peak_memory_bytes"}


def _cell(column: str, value) -> tuple[str, str]:
    """(HTML, sort key) of one table cell."""
    if missing(value):
        return "", ""
    dtype = COLUMNS[column][0]
    if column == "status":
        return badge(value), str(value)
    if column in BIG:
        return f'<span title="{int(value):,}">{human(float(value))}</span>', str(int(value))
    if dtype == "float64":
        digits = 1 if column in ("train_seconds", "images_per_second") else 2 if column.startswith("latency") else 4
        return f"{float(value):.{digits}f}", repr(float(value))
    if dtype == "boolean":
        return ("yes" if value else "no"), str(int(bool(value)))
    text = str(value)
    if len(text) > 60:  # long reasons and architecture keys: full text on hover
        return f'<span title="{esc(text)}">{esc(text[:57])}…</span>', text
    return esc(text), text


def trials_table(frame: pd.DataFrame, winner: pd.Series | None) -> str:
    columns = list(COLUMNS)
    rows, keys, classes = [], [], []
    for record in frame.itertuples(index=False):
        cells = [_cell(column, value) for column, value in zip(columns, record)]
        rows.append([html for html, _ in cells])
        keys.append([key for _, key in cells])
        classes.append("winner" if winner is not None and record.trial == winner["trial"] else "")
    text = tuple(i for i, column in enumerate(columns) if COLUMNS[column][0] == "string")
    return (f'<p class="note">All {len(frame)} trials with every column of the results table; click a header to sort. '
            "The winner's row is highlighted.</p>"
            + '<div class="scroll">' + table(columns, rows, text_columns=text, sortable=True, row_classes=classes, raw=keys) + "</div>")


def provenance(run: Run) -> str:
    record = run.record
    machine = record.machine or {}
    items = [
        ("run", esc(run.name)),
        ("folder", esc(run.path.resolve())),
        ("status", describe(record.status)),
        ("command", f"<code>{esc(record.command)}</code>" if record.command else "unknown"),
        ("space", describe(record.space)),
        ("proxy base", describe(dataclasses.asdict(record.proxy_base) if record.proxy_base else None)),
        ("budget / tolerance", f"{describe(record.budget)} / {describe(record.tolerance)}"),
        ("constraint / sampler", f"{describe(record.constraint)} / {describe(record.sampler)}"),
        ("trials asked / seed", f"{describe(record.trials)} / {describe(record.seed)}"),
        ("data / classes", f"{describe(record.data)} / {describe(record.num_classes)}"),
        ("device", describe(record.device)),
        ("started", describe(record.started)),
        ("finished", describe(record.finished)),
        ("wall time", duration(wall_seconds(run))),
        ("versions", describe(record.versions)),
        ("machine", describe(machine) if machine else "unknown"),
        ("report", f"scalesearch {esc(__version__)}, "
                   f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}"),
    ]
    return definitions(items)
