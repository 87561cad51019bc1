"""The report's sections for the stages after the search: the scaling curve (``--curve``) and the fidelity check
(``scalesearch check``). Each is absent until its stage has run."""
from __future__ import annotations

from pathlib import Path

from scalesearch.foundation.formatting import human
from scalesearch.report.figures import curve_figure
from scalesearch.report.page import esc, number, table
from scalesearch.foundation.run_files import CURVE_FILE
from scalesearch.study.curve import curve_difference, curve_points
from scalesearch.study.planned import read_planned


def curve_section(run_dir: Path, plot) -> str | None:
    curve = read_planned(Path(run_dir) / CURVE_FILE)
    if curve is None:
        return None
    points = curve_points(curve)
    failed = int((curve["status"] == "failed").sum())
    body = plot(curve_figure(points), "fig-curve", "No training of the curve has completed yet.")
    notes = ["Each point is the mean over its seeds with the 95% Student-t interval; x is the measured FLOPs of the "
             "network. φ = 0 is the proxy base (shared by both lines); φ = 1 is the network the search trained, its "
             "seeds taken from the search; φ = k has depth α<sup>k</sup>, width β<sup>k</sup> and resolution "
             "base·γ<sup>k</sup>, with the coefficients the search recorded."]
    difference = curve_difference(curve)
    if difference is not None:
        phi, estimate = difference
        if estimate.n > 1:
            verdict = ("beyond the noise" if estimate.excludes_zero() else "within the noise")
            flops = {role: human(points[(points["role"] == role) & (points["phi"] == phi)]["flops"].iloc[0])
                     for role in ("winner", "rival")}
            notes.append(f"At φ = {phi}: winner − rival = {estimate.mean:+.3f} ± {estimate.half_width:.3f} "
                         f"(n = {estimate.n} paired seeds), {verdict}; at {flops['winner']} against {flops['rival']} "
                         "FLOPs, so read it along the lines, not as a comparison at equal cost.")
    if failed:
        notes.append(f"{failed} training(s) of the curve failed; see {CURVE_FILE}.")
    rows = [[esc(row["role"]), esc(row["network"]), str(row["phi"]), human(row["flops"]), str(row["resolution"]),
             number(row["mean"]), number(row["sd"]), str(row["n"]), f"{number(row['low'])} – {number(row['high'])}"]
            for _, row in points.iterrows()]
    return (body + "".join(f'<p class="note">{note}</p>' for note in notes)
            + table(["curve", "network", "φ", "FLOPs", "px", "mean", "sd", "n", "95% interval"], rows, text_columns=(0, 1)))


def fidelity_section(run_dir: Path) -> str | None:
    from scalesearch.foundation.run_files import CHECK_FILE
    from scalesearch.runs.check_files import read_fidelity

    fidelity = read_fidelity(run_dir)
    if fidelity is None:
        return None
    notes = [esc(fidelity.sentence) + "."] if fidelity.tau is not None else []
    warning = f'<div class="warn">Warning: {esc(fidelity.warning)}.</div>' if fidelity.warning else ""
    if fidelity.status != "complete":
        notes.append(f"The check was stopped before it finished; run <code>scalesearch check {esc(run_dir)}</code> again "
                     "to continue it.")
    notes.append(f"Each network's proxy figure is its mean over the search's seeds; the longer figure its mean over "
                 f"{len(fidelity.seeds)} seed(s) of {fidelity.longer_epochs} epochs. τ-b counts ties; with few networks it "
                 f"moves in large steps. Kept in {CHECK_FILE}.")
    rows = [[esc(network.name), number(network.proxy_mean), str(network.proxy_n), number(network.longer_mean),
             str(network.longer_n)] for network in sorted(fidelity.networks, key=lambda network: -network.proxy_mean)]
    return (warning + "".join(f'<p class="note">{note}</p>' for note in notes)
            + table(["network", f"proxy ({fidelity.proxy_epochs} epochs)", "n", f"longer ({fidelity.longer_epochs} epochs)",
                     "n"], rows, text_columns=(0,)))
