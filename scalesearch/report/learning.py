"""The report's learning curves: every training of the search by epoch, a network's seeds (the confirm stage's and
any further ones) together, read from learning_curves.csv (runs/learning_curves.py); and, said plainly, whether the
networks the verdict compares were still learning at their last epoch (runs/still_learning.py: a heuristic, and the
page says so)."""
from __future__ import annotations

from dataclasses import dataclass

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.references import FAST_COMPOUND, PAPER
from scalesearch.foundation.run_files import LEARNING_CURVES_FILE
from scalesearch.foundation.status import ATTEMPTED
from scalesearch.report.figures import learning_curves_figure
from scalesearch.report.page import esc, number, table
from scalesearch.runs.folder import Run
from scalesearch.runs.learning_curves import SEARCH, LearningCurve, read_learning_curves
from scalesearch.runs.still_learning import RULE, LastEpochGain, last_epoch_gain
from scalesearch.verdict.verdict import Network, Verdict, networks

WINNER, RIVAL = "winner", "rival"
SHOWN_WITHOUT_VERDICT = 4  # with no verdict to say which networks matter: the best few by accuracy are shown


@dataclass(frozen=True)
class Compared:
    """A network the verdict compares, and its gain over the last epoch (None: no curve of two epochs or more)."""

    role: str  # winner | rival | paper | dWr
    network: Network
    gain: LastEpochGain | None


def search_curves(run: Run) -> dict[str, list[LearningCurve]]:
    """The search's curves (explore and confirm stages) by architecture, in the order trained; an InputError for a
    damaged file."""
    grouped: dict[str, list[LearningCurve]] = {}
    for curve in read_learning_curves(run.path):
        if curve.stage == SEARCH:
            grouped.setdefault(curve.architecture, []).append(curve)
    return grouped


def compared_networks(verdict: Verdict | None, curves: dict[str, list[LearningCurve]]) -> list[Compared]:
    """The winner and what the verdict compares it with (its rival, the paper's point, dWr), each once."""
    if verdict is None:
        return []
    roles = [(WINNER, verdict.winner), (RIVAL, verdict.rival)]
    roles += [(PAPER, verdict.versus_paper.network if verdict.versus_paper else None),
              (FAST_COMPOUND, verdict.versus_fast_compound.network if verdict.versus_fast_compound else None)]
    out, seen = [], set()
    for role, network in roles:
        if network is not None and network.architecture not in seen:
            seen.add(network.architecture)
            out.append(Compared(role, network, last_epoch_gain(curves.get(network.architecture, []))))
    return out


def still_learning_warning(compared: list[Compared]) -> str | None:
    """The plain sentence, as HTML, when a network the verdict compares was still rising at its last epoch."""
    rising = [entry for entry in compared if entry.gain is not None and entry.gain.rising]
    if not rising:
        return None
    # "the winner α=…", "the rival resolution-only (α=…)"; the paper's and dWr's names say what they are
    gains = [f"{f'the {entry.role} ' if entry.role in (WINNER, RIVAL) else ''}{esc(entry.network.name)} rose by {entry.gain.gain:+.3f} in its last epoch "
             f"(epoch {entry.gain.last_epoch}, mean of {entry.gain.seeds} seed(s))" for entry in rising]
    which = "these networks were" if len(rising) > 1 else "this network was"
    return (f"The proxy training ended while {which} still learning: {'; '.join(gains)}. A longer training may rank "
            "them otherwise than this verdict does: <code>scalesearch check RUN_DIR</code> trains them again for "
            "longer and says whether the ranking holds, or search with more epochs (<code>--proxy-epochs</code>). "
            f"This is a heuristic: {esc(RULE)}.")


def run_still_learning_warning(run: Run, verdict: Verdict | None) -> str | None:
    """still_learning_warning for a run folder (None where it has no readable learning curves)."""
    try:
        curves = search_curves(run)
    except InputError:
        return None  # the Learning curves section names the damaged file
    return still_learning_warning(compared_networks(verdict, curves))


def learning_section(run: Run, verdict: Verdict | None, plot) -> str | None:
    """The section's HTML; None for a run that has trained nothing yet and has no curves file."""
    try:
        curves = search_curves(run)
    except InputError as error:
        return f'<p class="warn">No learning curves: {esc(error)}</p>'
    if not (run.path / LEARNING_CURVES_FILE).exists():
        if not run.table["status"].isin(ATTEMPTED).any():
            return None
        return (f'<p class="note">This run folder has no {LEARNING_CURVES_FILE}: it was run before learning curves were '
                "kept, so there are none to show. A run started (or a stage run) since keeps one.</p>")
    compared = compared_networks(verdict, curves)
    names = {network.architecture: network.name for network in networks(run.table)}
    roles = {entry.network.architecture: entry.role for entry in compared}
    gains = {architecture: last_epoch_gain(group) for architecture, group in curves.items()}

    def final_accuracy(architecture: str) -> float:
        gain = gains[architecture]
        return gain.accuracy if gain is not None else -1.0

    rest = sorted((architecture for architecture in curves if architecture not in roles), key=final_accuracy, reverse=True)
    order = [entry.network.architecture for entry in compared if entry.network.architecture in curves] + rest
    shown = set(roles) if roles else set(order[:SHOWN_WITHOUT_VERDICT])

    def label(architecture: str) -> str:
        name = names.get(architecture) or curves[architecture][0].network
        role = roles.get(architecture)
        return f"{role}: {name}" if role in (WINNER, RIVAL) else name  # the paper's and dWr's names say theirs

    figure = learning_curves_figure([(label(architecture), curves[architecture], architecture in shown)
                                     for architecture in order])
    warning = still_learning_warning(compared)
    parts = [f'<div class="warn">{warning}</div>' if warning else ""]
    parts.append(plot(figure, "fig-learning-curves", "No training of the search has reported an epoch yet."))
    notes = ["Each line is one training: a network's seeds share its colour and its legend entry (click it to show or "
             "hide them). " + ("The networks the verdict compares are shown; the others are in the legend."
                               if roles else "The best networks by accuracy are shown; the others are in the legend."),
             f"Every training's curve, the curve stage's and <code>scalesearch check</code>'s included (column "
             f"<code>stage</code>), is in {LEARNING_CURVES_FILE}; <code>--tensorboard DIR</code> writes them as "
             "TensorBoard runs too."]
    if compared and not warning:
        notes.insert(0, "None of the networks the verdict compares was still rising at its last epoch, by a "
                        f"heuristic: {esc(RULE)}.")
    parts += [f'<p class="note">{note}</p>' for note in notes]
    rows = []
    for architecture in order:
        gain = gains[architecture]
        rows.append([esc(roles.get(architecture, "")), esc(names.get(architecture) or curves[architecture][0].network),
                     str(len(curves[architecture])), str(gain.last_epoch) if gain else "–",
                     number(gain.accuracy) if gain else "–", f"{gain.gain:+.3f}" if gain else "–",
                     ("yes" if gain.rising else "no") if gain else "–"])
    parts.append('<div class="scroll">' + table(
        ["role", "network", "trainings", "last epoch", "accuracy after it", "gain in it (mean)", "still rising"], rows,
        text_columns=(0, 1)) + "</div>")
    return "".join(parts)
