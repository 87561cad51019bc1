"""The report's plotly figures, each from the results table (or the coefficients JSON, or the learning curves) alone.

Traces that hold one marker per trial carry ``meta="trials"`` so a test can count
the plotted trials without knowing how the figure groups them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from scalesearch.foundation.formatting import human
from scalesearch.foundation.table import missing
from scalesearch.report.page import STATUS_COLOURS, esc
from scalesearch.foundation.table import STATUSES, completed
from scalesearch.runs.winner import pareto_mask

LAYOUT = dict(template="plotly_white", height=460, margin=dict(l=60, r=20, t=50, b=50), hovermode="closest")
REFERENCE_SYMBOL = "diamond"


def hover_text(row: pd.Series) -> str:
    """One trial's coefficients and figures; plotly reads a little HTML here, so user text is escaped."""
    def value(column, digits=3, big=False):
        cell = row[column]
        if missing(cell):
            return "–"
        return human(float(cell)) if big else f"{float(cell):.{digits}f}"

    lines = [f"<b>trial {row['trial']}</b> · {esc(row['status'])}"]
    if not missing(row["reference"]):
        lines[0] += f" · reference: {esc(row['reference'])}"
    lines += [
        f"α {value('alpha')} · β {value('beta')} · γ {value('gamma')}",
        f"α·β²·γ² {value('formula_product')} · FLOPs ratio {value('flops_ratio')}",
        f"FLOPs {value('flops', big=True)} · params {value('params', big=True)} · {row['resolution'] if not missing(row['resolution']) else '–'} px",
        f"accuracy {value('accuracy')} · latency {value('latency_ms', 2)} ms",
    ]
    if not missing(row["seed"]):
        lines.append(f"seed {row['seed']}")
    if not missing(row["reason"]):
        lines.append(esc(str(row["reason"])[:120]))
    return "<br>".join(lines)


def plotted(table: pd.DataFrame, cost: str) -> pd.DataFrame:
    """Trials with a result to plot against ``cost``: every status, feasible or not."""
    return table[(table["accuracy"].notna() & table[cost].notna()).astype(bool)]


def _trial_traces(points: pd.DataFrame, x: str, y: str) -> list[go.Scatter]:
    """One trace per status (so the legend explains the colours); references as labelled diamonds."""
    points = points.assign(status=points["status"].fillna("unknown"))
    traces = []
    for status in [*STATUSES, *sorted(set(points["status"].dropna()) - set(STATUSES))]:
        group = points[(points["status"] == status).fillna(False).astype(bool)]
        if group.empty:
            continue
        # Searched trials first: the legend shows a trace's first marker, which should be a plain circle.
        group = group.sort_values("reference", na_position="first", kind="stable")
        is_reference = group["reference"].notna().to_numpy(bool)
        feasible = group["feasible"].fillna(False).to_numpy(bool)
        symbols = [
            (REFERENCE_SYMBOL if ref else "circle") + ("" if ok else "-open") for ref, ok in zip(is_reference, feasible)
        ]
        traces.append(go.Scatter(
            # Plain lists, not numpy (which plotly ships base64-encoded): the page's data stays readable.
            x=group[x].astype(float).tolist(), y=group[y].astype(float).tolist(), mode="markers+text", name=status, meta="trials",
            marker=dict(color=STATUS_COLOURS.get(status, "#555"), size=[13 if ref else 9 for ref in is_reference],
                        symbol=symbols, line=dict(width=1.5, color=STATUS_COLOURS.get(status, "#555"))),
            text=[esc(ref) if not missing(ref) else "" for ref in group["reference"]], textposition="top center",
            textfont=dict(size=11), hovertext=[hover_text(row) for _, row in group.iterrows()], hoverinfo="text",
        ))
    return traces


def pareto_figure(table: pd.DataFrame, cost: str, title: str, axis: str) -> go.Figure | None:
    """Accuracy against ``cost``: every trial with a result, the front of complete feasible trials as a step line."""
    points = plotted(table, cost)
    if points.empty:
        return None
    figure = go.Figure(_trial_traces(points, cost, "accuracy"))
    candidates = completed(table)
    candidates = candidates[candidates[cost].notna().astype(bool)]
    if len(candidates):
        front = candidates[pareto_mask(candidates["accuracy"].to_numpy(float), candidates[cost].to_numpy(float))]
        front = front.sort_values(cost)
        figure.add_trace(go.Scatter(
            x=front[cost].astype(float), y=front["accuracy"].astype(float), mode="lines", name="Pareto front",
            meta="front", line=dict(color="#2e7d32", width=2, shape="hv"), hoverinfo="skip",
        ))
    figure.update_layout(**LAYOUT, title=title, xaxis_title=axis, yaxis_title="proxy accuracy (top-1)",
                         legend=dict(orientation="h", y=-0.18))
    if cost == "flops":
        figure.update_xaxes(tickformat="~s")
    return figure


def space_figure(table: pd.DataFrame, budget: float | None, constraint: str | None, grid: np.ndarray | None) -> go.Figure | None:
    """α against β, γ as colour, accuracy as size; the budget's γ = 1 boundary α·β² = budget."""
    points = table[(table["alpha"].notna() & table["beta"].notna()).astype(bool)]
    if points.empty:
        return None
    figure = go.Figure()
    if grid is not None and len(grid):
        pairs = pd.DataFrame(grid[:, :2], columns=["alpha", "beta"]).round(6).drop_duplicates()
        figure.add_trace(go.Scatter(
            x=pairs["alpha"], y=pairs["beta"], mode="markers", name=f"grid ({len(grid)} feasible points)",
            marker=dict(color="#c5ccd3", size=5, symbol="square"), hovertemplate="grid α %{x:.2f} β %{y:.2f}<extra></extra>",
        ))
    if budget:
        alpha = np.linspace(1.0, budget, 200)
        label = "α·β² = budget (γ = 1)" + ("; feasibility was measured" if constraint == "measured" else "")
        figure.add_trace(go.Scatter(
            x=alpha, y=np.sqrt(budget / alpha), mode="lines", name=label, line=dict(color="#444", dash="dash"),
            hovertemplate="α %{x:.3f} β %{y:.3f} γ = 1<extra></extra>",
        ))
    gamma = points["gamma"].astype(float)
    scale = dict(colorscale="Viridis", cmin=float(np.nanmin(gamma)) if gamma.notna().any() else 1.0,
                 cmax=float(np.nanmax(gamma)) if gamma.notna().any() else 1.5)
    accuracy = points["accuracy"].astype(float)
    trained = points[accuracy.notna().to_numpy()]
    untrained = points[accuracy.isna().to_numpy()]
    if len(trained):
        low, span = float(trained["accuracy"].min()), float(np.ptp(trained["accuracy"].to_numpy(float))) or 1.0
        sizes = 9 + 21 * (trained["accuracy"].to_numpy(float) - low) / span
        figure.add_trace(go.Scatter(
            x=trained["alpha"].astype(float), y=trained["beta"].astype(float), mode="markers", name="trained (size = accuracy)",
            marker=dict(size=sizes, color=trained["gamma"].astype(float), colorbar=dict(title="γ"), showscale=True,
                        line=dict(width=1, color="#333"), **scale),
            hovertext=[hover_text(row) for _, row in trained.iterrows()], hoverinfo="text",
        ))
    if len(untrained):
        figure.add_trace(go.Scatter(
            x=untrained["alpha"].astype(float), y=untrained["beta"].astype(float), mode="markers",
            name="not trained (infeasible, failed…)", marker=dict(size=8, symbol="x", color=untrained["gamma"].astype(float),
                                                                 showscale=not len(trained), **scale),
            hovertext=[hover_text(row) for _, row in untrained.iterrows()], hoverinfo="text",
        ))
    figure.update_layout(**LAYOUT, title="Search space: α against β (γ as colour)", xaxis_title="α (depth)",
                         yaxis_title="β (width)", legend=dict(orientation="h", y=-0.18))
    return figure


def progress_figure(table: pd.DataFrame) -> go.Figure | None:
    """Best accuracy so far against trial number, over complete feasible trials."""
    candidates = completed(table).sort_values("trial")
    if candidates.empty:
        return None
    trials = candidates["trial"].astype(int).to_numpy()
    accuracy = candidates["accuracy"].to_numpy(float)
    figure = go.Figure([
        go.Scatter(x=trials, y=accuracy, mode="markers", name="trial accuracy", marker=dict(color="#9aa7b3", size=7),
                   hovertext=[hover_text(row) for _, row in candidates.iterrows()], hoverinfo="text"),
        go.Scatter(x=trials, y=np.maximum.accumulate(accuracy), mode="lines+markers", name="best so far",
                   line=dict(color="#0b6bcb", width=2.5, shape="hv"), marker=dict(size=5)),
    ])
    figure.update_layout(**LAYOUT, title="Progress: best proxy accuracy so far", xaxis_title="trial number",
                         yaxis_title="proxy accuracy (top-1)", legend=dict(orientation="h", y=-0.18))
    return figure


PANELS = (("flops", "FLOPs"), ("params", "parameters"), ("activations", "activations"), ("resolution", "resolution (px)"))


def extrapolation_figure(document: dict) -> go.Figure:
    """FLOPs, params, activations and resolution against φ for the winner's networks (B0..B7, or the φ winner.json
    lists: B-2, B0.5, …) and the official B0–B7."""
    figure = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title in PANELS], horizontal_spacing=0.1)
    series = [("scaled by the winner", document["models"], "#0b6bcb", "solid")]
    if document.get("official"):
        series.append(("official EfficientNet B0–B7", document["official"], "#d62728", "dot"))
    for index, (key, _) in enumerate(PANELS):
        row, col = index // 2 + 1, index % 2 + 1
        for name, models, colour, dash in series:
            figure.add_trace(go.Scatter(
                x=[model["phi"] for model in models], y=[model[key] for model in models], mode="lines+markers",
                name=name, legendgroup=name, showlegend=index == 0, line=dict(color=colour, dash=dash),
                text=[model["name"] for model in models],
                hovertemplate="%{text}: %{y:.4s}<extra>" + esc(name) + "</extra>",
            ), row=row, col=col)
        if key == "flops" and document.get("ideal_flops_ratio"):
            base = document["base"]["flops"]
            ideal = sorted((float(phi), base * ratio) for phi, ratio in document["ideal_flops_ratio"].items())  # "-1", "0.5"
            figure.add_trace(go.Scatter(
                x=[phi for phi, _ in ideal], y=[flops for _, flops in ideal], mode="lines", name="budget^φ × B0",
                line=dict(color="#888", dash="dash"), hovertemplate="φ %{x}: %{y:.4s}<extra>ideal</extra>",
            ), row=row, col=col)
        figure.update_yaxes(type="log", tickformat="~s", dtick="D2", row=row, col=col)  # labels at 1, 2, 5 only
        figure.update_xaxes(title_text="φ", dtick=1, row=row, col=col)
    figure.update_layout(template="plotly_white", height=640, margin=dict(l=60, r=20, t=50, b=50),
                         legend=dict(orientation="h", y=-0.12))
    return figure


CURVE_COLOURS = {"winner": "#0b6bcb", "rival": "#d62728"}


def curve_figure(points: pd.DataFrame) -> go.Figure | None:
    """The paper's Figure 3 on this run's proxy: mean accuracy (95% t-interval bars) against measured FLOPs, φ by φ,
    for the winner and its rival (study/curve.py)."""
    if points.empty:
        return None
    figure = go.Figure()
    for role, group in points.groupby("role", sort=False):
        group = group.sort_values("phi")
        finite = np.isfinite(group["high"].to_numpy(float))
        figure.add_trace(go.Scatter(
            x=group["flops"], y=group["mean"], mode="lines+markers+text", name=f"{role}: {group['network'].iloc[-1]}",
            text=[f"φ={phi}" for phi in group["phi"]], textposition="top left",
            line=dict(color=CURVE_COLOURS.get(role, "#555"), width=2.5), marker=dict(size=8),
            error_y=dict(type="data", symmetric=False, visible=True,
                         array=np.where(finite, group["high"] - group["mean"], 0.0),
                         arrayminus=np.where(finite, group["mean"] - group["low"], 0.0)),
            customdata=np.stack([group["n"], group["resolution"]], axis=1),
            hovertemplate="φ=%{text}: accuracy %{y:.3f} (n=%{customdata[0]}), %{x:.4s} FLOPs, "
                          "%{customdata[1]} px<extra>" + esc(role) + "</extra>",
        ))
    figure.update_layout(**LAYOUT, title="Scaling curve: proxy accuracy against measured FLOPs, φ = "
                                         f"{int(points['phi'].min())}…{int(points['phi'].max())}",
                         xaxis_title="measured FLOPs (log)", yaxis_title="proxy accuracy (top-1), mean over seeds",
                         legend=dict(orientation="h", y=-0.18))
    figure.update_xaxes(type="log", tickformat="~s")
    return figure


# One colour per network, its seeds sharing it; cycled past 24 networks.
NETWORK_COLOURS = ("#0b6bcb", "#d62728", "#2e7d32", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                   "#7f7f7f", "#1f3a93", "#b03060", "#006d5b", "#c08000", "#5d3a9b", "#a0522d", "#ff69b4", "#008b8b",
                   "#6b8e23", "#4d4d4d", "#4169e1", "#dc143c", "#228b22", "#daa520")
CURVE_PANELS = (("accuracy", "validation accuracy (top-1)"), ("loss", "validation loss"))


def learning_curves_figure(networks: list[tuple[str, list, bool]]) -> go.Figure | None:
    """Validation accuracy and loss against epoch, one line per training: ``networks`` is (name, its curves
    (runs/learning_curves.LearningCurve, one per seed), shown at first), in legend order. A network's seeds share
    its colour and one legend entry (a click shows or hides them all); a hidden one is a legend entry to click.
    Each trace carries ``meta`` = its network's name, so a test can count lines per network."""
    if not any(curves for _, curves, _ in networks):
        return None
    figure = make_subplots(rows=1, cols=len(CURVE_PANELS), subplot_titles=[title for _, title in CURVE_PANELS],
                           horizontal_spacing=0.08)
    for index, (name, curves, shown) in enumerate(networks):
        colour = NETWORK_COLOURS[index % len(NETWORK_COLOURS)]
        for column, (field, title) in enumerate(CURVE_PANELS, start=1):
            for number, curve in enumerate(curves):
                epochs = [epoch for epoch in curve.epochs if getattr(epoch, field) is not None]
                figure.add_trace(go.Scatter(
                    x=[epoch.epoch for epoch in epochs], y=[getattr(epoch, field) for epoch in epochs],
                    mode="lines+markers", name=esc(name), legendgroup=esc(name), meta=name,
                    showlegend=column == 1 and number == 0, visible=True if shown else "legendonly",
                    line=dict(color=colour, width=2), marker=dict(size=5),
                    hovertemplate=(f"{esc(name)}<br>seed {curve.seed}: epoch %{{x}}, {title} %{{y:.3f}}"
                                   f"<extra>{esc(curve.status)}</extra>"),
                ), row=1, col=column)
    figure.update_xaxes(title_text="epoch", dtick=1)
    figure.update_layout(**LAYOUT, legend=dict(orientation="h", y=-0.2))  # the section's heading is its title
    return figure
