"""The report's first section: the winner, how it compares with the references, the noise, the cost."""
from __future__ import annotations

import datetime

import pandas as pd

from scalesearch.foundation.formatting import human
from scalesearch.foundation.references import in_order
from scalesearch.foundation.table import missing
from scalesearch.report.learning import run_still_learning_warning
from scalesearch.study.halving import agreement_lines, rank_agreement
from scalesearch.report.page import cards, esc, number
from scalesearch.report.page import table as html_table
from scalesearch.foundation.status import RunStatus, TrialStatus
from scalesearch.foundation.table import STATUSES, completed
from scalesearch.runs.folder import Run
from scalesearch.verdict.statistics import CLAIM_CONFIDENCE, Estimate, paired_difference, pooled_sd
from scalesearch.verdict.verdict import LATENCY_ALONE, LATENCY_BAND, TIE_MARGIN, Network, Verdict, decide, difference_phrase, networks, per_network_table



def status_counts(frame: pd.DataFrame) -> str:
    counts = frame["status"].fillna("unknown").value_counts()
    order = [s for s in (*STATUSES, "unknown") if s in counts] + sorted(set(counts.index) - set(STATUSES) - {"unknown"})
    return ", ".join(f"{counts[s]} {esc(s)}" for s in order)


def duration(seconds) -> str:
    if missing(seconds):
        return "unknown"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def wall_seconds(run: Run):
    if isinstance(run.record.wall_seconds, (int, float)):
        return run.record.wall_seconds
    try:
        start, end = (datetime.datetime.fromisoformat(value) for value in (run.record.started, run.record.finished))
    except (KeyError, TypeError, ValueError):
        return None
    return (end - start).total_seconds()


def describe(value) -> str:
    """A run.json value as escaped text; dicts as ``key value`` pairs, missing as unknown."""
    if missing(value) or value == "":
        return "unknown"
    if isinstance(value, dict):
        return ", ".join(f"{esc(k)} {describe(v)}" for k, v in value.items()) or "unknown"
    if isinstance(value, (list, tuple)):
        return ", ".join(describe(v) for v in value) or "none"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f'<span title="{value:,}">{human(value)}</span>'  # FLOPs, params: 727k, exact on hover
    return esc(value)


def preset_text(preset) -> str:
    if isinstance(preset, dict) and "name" in preset:
        rest = {k: v for k, v in preset.items() if k != "name"}
        return f"<b>{esc(preset['name'])}</b>" + (f" ({describe(rest)})" if rest else "")
    return describe(preset)


def _accuracy_text(accuracy: Estimate | None) -> str:
    if accuracy is None:
        return "–"
    if accuracy.n > 1:
        return f"{accuracy.mean:.3f} ± {accuracy.sd:.3f} (n={accuracy.n})"
    return number(accuracy.mean)


def _difference_text(verdict: Verdict | None, network: Network | None) -> str:
    """winner − network over the seeds both have, in the verdict's words; coloured where the verdict would call it
    beyond the noise (its t-interval at the verdict's own level excludes 0)."""
    if verdict is None or network is None:
        return "–"
    if network.architecture == verdict.winner.architecture:
        return "this is the winner"
    difference = paired_difference(verdict.winner.seeds, network.seeds, verdict.confidence)
    if difference is None:
        return "no shared seeds"
    if not difference.excludes_zero():
        return difference_phrase(difference)
    return f'<span class="{"up" if difference.mean > 0 else "down"}">{difference_phrase(difference)}</span>'


def references(table: pd.DataFrame, verdict: Verdict | None) -> str:
    rows = table[table["reference"].notna().astype(bool)]
    if rows.empty:
        return '<p class="note">No reference trials in this run (paper point, depth-, width- or resolution-only scaling).</p>'
    labels = in_order(rows["reference"])
    trained = {network.architecture: network for network in networks(table)}
    body = []
    for label in labels:
        group = rows[(rows["reference"] == label).astype(bool)]
        first = group.iloc[0]
        network = next((trained[key] for key in group["architecture"].dropna() if key in trained), None)
        feasible = "" if bool(group["feasible"].fillna(False).all()) else " (off budget)"
        body.append([
            esc(label), esc(", ".join(str(t) for t in group["trial"])), esc(", ".join(sorted(set(group["status"].fillna("?"))))) + feasible,
            f"{number(first['alpha'])} / {number(first['beta'])} / {number(first['gamma'])}",
            number(first["flops_ratio"], 2) + "×", _accuracy_text(network.accuracy if network else None),
            _difference_text(verdict, network),
        ])
    headers = ["reference", "trial", "status", "α / β / γ", "FLOPs ratio", "proxy accuracy", "winner − reference (paired seeds)"]
    return "<h3>Against the reference trials</h3>" + html_table(headers, body, text_columns=(0, 1, 2))


def noise(table: pd.DataFrame, verdict: Verdict | None) -> str:
    """The networks trained with several seeds, their spread, and how the verdict tells a difference from the noise."""
    several = [network for network in networks(table) if network.accuracy.n > 1]
    if not several:
        return ('<p class="note">Every network here was trained with one seed, and one seed says nothing of the noise: '
                "no difference between them has an interval, so the verdict calls none beyond the noise. Several seeds "
                "(<code>--seeds</code>) give each network a 95% t-interval.</p>")
    trained = table[((table["status"] == TrialStatus.COMPLETE).fillna(False) & table["accuracy"].notna()).to_numpy(bool)]
    rows = []
    for network in several:
        trials = trained[(trained["architecture"] == network.architecture).to_numpy(bool)]["trial"]
        accuracy = network.accuracy
        rows.append([
            esc(", ".join(str(t) for t in trials)),
            f"{number(network.alpha)} / {number(network.beta)} / {number(network.gamma)}",
            str(accuracy.n), f"{accuracy.mean:.3f} ± {accuracy.sd:.3f}", _difference_text(verdict, network),
        ])
    pooled = pooled_sd(network.accuracy for network in several)
    level = verdict.confidence if verdict is not None else CLAIM_CONFIDENCE
    return (f"<h3>Seed noise</h3><p class=\"note\">{len(several)} network(s) were trained with several seeds; the pooled "
            f"standard deviation of accuracy is <b>{pooled:.3f}</b>. The verdict does not judge by it: a difference is "
            f"beyond the noise where the verdict's {level:.1%} t-interval of the paired seed differences excludes 0 "
            "(seed k moves both networks alike, and pairing removes that share). The last column gives winner − network over the seeds "
            "both have, coloured where it is beyond the noise.</p>"
            + html_table(["trials", "α / β / γ", "seeds", "accuracy mean ± sd", "winner − network (paired seeds)"], rows,
                         text_columns=(0,)))


def training_seconds(frame: pd.DataFrame) -> float:
    """Proxy training time, each network's training counted once. A duplicate reuses its original's result
    and costs nothing, but tables written before that was recorded copy the original's train_seconds into it."""
    own = ~(frame["status"] == TrialStatus.DUPLICATE).fillna(False).to_numpy(bool)
    return float(frame.loc[own, "train_seconds"].fillna(0).astype(float).sum())


def compute_spent(run: Run) -> str:
    frame = run.table
    train_hours = training_seconds(frame) / 3600
    items = [
        ("trials", f"{len(frame)}"),
        ("wall time", duration(wall_seconds(run))),
        ("trial-hours", f"{train_hours:.2f} h" if train_hours >= 0.1 else f"{train_hours * 60:.1f} min"),
        ("device", describe(run.record.device)),
    ]
    return ("<h3>Compute spent</h3>" + cards(items)
            + f'<p class="note">Trials by status: {status_counts(frame)}. Trial-hours add up the proxy trainings\' wall time, '
              "each training once: a duplicate reuses its original's result and costs 0 s.</p>"
            + f'<p class="note">Data: {describe(run.record.data)}. Preset: {preset_text(run.record.preset)}.</p>')


def networks_table(table: pd.DataFrame) -> str:
    """One row per network with its accuracy over seeds: what the verdict was decided on."""
    frame = per_network_table(table)
    if frame.empty:
        return ""
    frame = frame.sort_values(["n", "mean"], ascending=[False, False])
    rows = [[esc(row["reference"] or "searched"), number(row["alpha"]), number(row["beta"]), number(row["gamma"]),
             number(row["mean"]), number(row["sd"]), str(int(row["n"])),
             "–" if missing(row["low"]) else f"[{row['low']:.3f}, {row['high']:.3f}]",
             "yes" if row["feasible"] else "no",
             "–" if missing(row.get(LATENCY_ALONE)) else f"{row[LATENCY_ALONE]:.2f}"] for _, row in frame.iterrows()]
    return ('<p class="note">Each network\'s accuracy over its seeds: mean, sd, n and the 95% Student-t interval '
            "(one seed has no interval). Latency: batch 1, timed alone on the machine after the search, for the networks "
            f"<code>--tie-break latency</code> chose among; within {LATENCY_BAND:.0%} counts as one speed, and the best "
            "mean among them wins.</p>"
            + html_table(["network", "α", "β", "γ", "mean", "sd", "n", "95% interval", "on budget", "latency (ms)"], rows,
                         text_columns=(0,)))


def summary_section(run: Run, winner: pd.Series | None, knee: pd.Series | None) -> str:
    """The Summary section's HTML: the verdict and its winner, the references, the seed noise, the compute spent."""
    verdict = decide(run.table, run.tie_break, run.looks) if winner is not None else None
    parts = [f'<p class="warn">{esc(warning)}</p>' for warning in run.warnings]
    status = run.record.status
    if status and status != RunStatus.COMPLETE:
        parts.append(f'<p class="warn">This run is <b>{esc(status)}</b>: everything below is what it had finished.</p>')
    budget = run.budget
    if winner is None:
        failed = run.table[(run.table["status"] == TrialStatus.FAILED).fillna(False).to_numpy(bool) & run.table["reason"].notna().to_numpy(bool)]
        first_error = f" First failure: {esc(failed.iloc[0]['reason'])}." if len(failed) else ""
        parts.append(f'<p class="empty">No trial completed yet: {len(run.table)} trial(s) recorded '
                     f"({status_counts(run.table) or 'none'}). There is no winner to show.{first_error}</p>")
    else:
        if verdict is not None:
            parts.append(f'<p class="headline verdict">Verdict: <b>{esc(verdict.sentence)}</b></p>')
            still_learning = run_still_learning_warning(run, verdict)
            if still_learning:  # beside the verdict it qualifies; the curves are in the Learning curves section
                parts.append(f'<p class="warn still-learning">{still_learning} '
                             '(<a href="#learning">Learning curves</a>)</p>')
            pairs = rank_agreement(run.table)  # --fidelity halving
            for pair, line in zip(pairs, agreement_lines(pairs)):
                parts.append(f'<p class="{"warn" if pair["low"] else "note"} halving">{esc(line)}</p>')
        parts.append(
            f'<p class="headline">Winner: <b>α = {winner["alpha"]:.3f}, β = {winner["beta"]:.3f}, γ = {winner["gamma"]:.3f}</b>'
            f' — trial {winner["trial"]}' + (f' (reference: {esc(winner["reference"])})' if not missing(winner["reference"]) else "") + "</p>"
        )
        parts.append(cards([
            ("budget", f"{budget:g}×" if budget else "unknown"),
            ("α·β²·γ²", number(winner["formula_product"])),
            ("measured FLOPs ratio", number(winner["flops_ratio"], 2) + "×"),
            ("proxy accuracy", number(winner["accuracy"])),
            ("FLOPs (φ=1, proxy)", human(float(winner["flops"])) if not missing(winner["flops"]) else "–"),
            ("params (φ=1, proxy)", human(float(winner["params"])) if not missing(winner["params"]) else "–"),
        ]))
        accuracy = verdict.winner.accuracy if verdict is not None else None
        if accuracy is not None and accuracy.n > 1:
            parts.append(f'<p class="note">The winner\'s network was trained with {accuracy.n} seeds: accuracy '
                         f"<b>{accuracy.mean:.3f} ± {accuracy.sd:.3f}</b> (mean ± sd); the comparisons below are "
                         "differences over the seeds both networks have.</p>")
        if knee is not None and knee["trial"] != winner["trial"]:
            parts.append(f'<p class="note">The Pareto knee (accuracy against FLOPs) is trial {knee["trial"]}: α {knee["alpha"]:.3f}, '
                         f'β {knee["beta"]:.3f}, γ {knee["gamma"]:.3f}, accuracy {knee["accuracy"]:.3f} at {number(knee["flops_ratio"], 2)}× '
                         "(<code>scalesearch export --pick knee</code>).</p>")
        parts.append(f'<p class="note">{len(completed(run.table))} complete, feasible trial(s) competed; the winner has the '
                     "highest mean accuracy over its seeds among the networks with the most seeds; networks its seeds show at most "
                     f"{TIE_MARGIN:g} worse (the paired 95% interval's low end) are tied with it, and the tie-break "
                     f"({esc(run.tie_break)}) picks among them.</p>")
        parts.append(networks_table(run.table))
    parts.append(references(run.table, verdict))
    parts.append(noise(run.table, verdict))
    parts.append(compute_spent(run))
    return "".join(parts)
