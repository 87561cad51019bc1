"""Plain-text tables for the terminal."""
from __future__ import annotations

from scalesearch.foundation.formatting import human


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[index]) for row in cells)) if cells else len(header) for index, header in enumerate(headers)]
    lines = ["  ".join(header.rjust(width) for header, width in zip(headers, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(value.rjust(width) for value, width in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def extrapolation_table(models: list[dict]) -> str:
    headers = ["name", "phi", "width", "depth", "resolution", "FLOPs", "params", "activations", "FLOPs ratio"]
    rows = [
        [
            model["name"],
            "" if model["phi"] is None else model["phi"],
            f"{model['width']:.3f}",
            f"{model['depth']:.3f}",
            model["resolution"],
            human(model["flops"]),
            human(model["params"]),
            human(model["activations"]),
            f"{model['flops_ratio']:.2f}x",
        ]
        for model in models
    ]
    return format_table(headers, rows)


MAIN_COLUMNS = ["trial", "status", "reference", "alpha", "beta", "gamma", "formula_product", "flops_ratio",
                "resolution", "flops", "params", "accuracy", "train_seconds", "reason"]


def _cell(value) -> str:
    import pandas as pd

    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return human(value)
    return str(value)


def trials_table(table, every_column: bool = False) -> str:
    columns = list(table.columns) if every_column else MAIN_COLUMNS
    rows = [[_cell(row[column]) for column in columns] for _, row in table.iterrows()]
    return format_table([column.replace("_", " ") for column in columns], rows)


def run_summary(outcome) -> str:
    """The last lines of a run: winner, accuracy against the references, where the files are."""
    from scalesearch.foundation.references import in_order
    from scalesearch.foundation.status import RunStatus
    from scalesearch.runs.winner import pick_winner
    from scalesearch.study.halving import agreement_lines, rank_agreement
    from scalesearch.verdict.verdict import decide
    from scalesearch.verdict.verdict import per_network_table as network_summary

    table = outcome.table
    lines = []
    if outcome.status == RunStatus.FAILED:
        lines.append(f"run failed: {outcome.message}")
    elif outcome.status == RunStatus.INTERRUPTED:
        lines.append(f"run interrupted; finished trials are kept. Continue with: scalesearch run --resume {outcome.run_dir}")
    winner = pick_winner(table, "best", outcome.tie_break)
    if winner is None:
        lines.append("no trial completed on budget, so there is no winner")
    else:
        lines.append(
            f"winner: alpha={winner['alpha']:.3f} beta={winner['beta']:.3f} gamma={winner['gamma']:.3f} "
            f"(alpha*beta^2*gamma^2={winner['formula_product']:.2f}, measured {winner['flops_ratio']:.2f}x FLOPs) "
            f"accuracy {winner['accuracy']:.3f} over {winner['seeds']} seed(s) (trial {winner['trial']})"
        )
        networks = network_summary(table)
        references = networks[networks["reference"] != ""]
        references = references.set_index("reference", drop=False).loc[in_order(references["reference"])]
        if not references.empty:
            versus = ", ".join(f"{row['reference']} {row['mean']:.3f} (n={row['n']})" for _, row in references.iterrows())
            lines.append(f"references: {versus}")
        verdict = decide(table, outcome.tie_break, outcome.looks)
        lines.append(f"verdict: {verdict.sentence}")
        lines += agreement_lines(rank_agreement(table))  # --fidelity halving: did the short rungs rank as the long ones?
    lines += curve_lines(outcome.run_dir)
    if outcome.report:
        lines.append(f"report: {outcome.report}")
    if outcome.winner_json:
        lines.append(f"coefficients and B1-B7: {outcome.winner_json}")
    return "\n".join(lines)


def curve_lines(run_dir) -> list[str]:
    """The scaling curve's accuracies φ by φ, and winner − rival at the largest φ (none when --curve did not run)."""
    from pathlib import Path

    from scalesearch.foundation.run_files import CURVE_FILE

    from scalesearch.study.curve import curve_difference, curve_points
    from scalesearch.study.planned import read_planned

    curve = read_planned(Path(run_dir) / CURVE_FILE)
    if curve is None:
        return []
    lines = []
    for role, group in curve_points(curve).groupby("role", sort=False):
        steps = " -> ".join(f"φ{row['phi']} {row['mean']:.3f} ({human(row['flops'])})" for _, row in group.iterrows())
        lines.append(f"curve, {role} {group['network'].iloc[-1]}: {steps}")
    difference = curve_difference(curve)
    if difference is not None and difference[1].n > 1:
        phi, estimate = difference
        lines.append(f"curve at φ={phi}: winner - rival {estimate.mean:+.3f} ± {estimate.half_width:.3f} (n={estimate.n}, "
                     "95% t-interval of paired seeds)")
    return lines


def fidelity_lines(fidelity) -> list[str]:
    """The check's networks, proxy against longer training, then τ and its warning."""
    rows = [[network.name, f"{network.proxy_mean:.3f}", str(network.proxy_n),
             "–" if network.longer_mean is None else f"{network.longer_mean:.3f}", str(network.longer_n)]
            for network in sorted(fidelity.networks, key=lambda network: -network.proxy_mean)]
    lines = [format_table(["network", f"proxy ({fidelity.proxy_epochs} ep.)", "n",
                           f"longer ({fidelity.longer_epochs} ep.)", "n"], rows)]
    if fidelity.tau is not None:
        lines.append(f"fidelity: {fidelity.sentence}")
    if fidelity.warning:
        lines.append(f"warning: {fidelity.warning}")
    return lines
