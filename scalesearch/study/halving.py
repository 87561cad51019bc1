"""``--fidelity halving``: the explore stage as successive halving (Jamieson & Talwalkar 2016; the rungs of ASHA, Li
et al. 2020), as pure functions of the table.

Every searched candidate trains first at the shortest rung; the best 1/``reduction`` of each rung's networks (at
least ``keep``: the confirm stage's top) train again, from scratch, at the next rung's length, up to the proxy's own
length. A rung's training is a new one, not a continued one: the learning-rate schedule is set by a training's
length, so a network cut short is not the start of a longer training. A training at a lower rung is
``screened``: its accuracy ranks networks for the next rung only, never in the verdict, since it is not comparable
with a full-length one. The references train at full length, which the verdict compares with, and at the shortest
rung too, so that the rank agreement spans networks of every rank.

A resumed run plans from the finished rows exactly what is missing, as the confirm stage does (study/confirm.py).
"""
from __future__ import annotations

import math

import pandas as pd

from scalesearch.foundation.status import ATTEMPTED, TrialStatus
from scalesearch.verdict import fidelity

FULL, HALVING = "full", "halving"
FIDELITIES = (FULL, HALVING)
# Fewer promoted networks than this say nothing of a rung's ranking: at n = 3, τ is ±1/3 or ±1, and p ≥ 0.33.
FEWEST_TO_JUDGE = 4


def rungs_for(epochs: int, reduction: int, min_epochs: int | None = None) -> tuple[int, ...]:
    """The rungs' lengths in epochs, shortest first and the proxy's own last: each 1/``reduction`` of the next,
    down to ``min_epochs`` (default: one rung below the proxy's length). ``(epochs,)``: nothing to halve."""
    lowest = min_epochs if min_epochs is not None else max(1, math.floor(epochs / reduction))
    rungs = [epochs]
    while rungs[0] // reduction >= lowest:  # lowest ≥ 1 and reduction ≥ 2: each step is shorter, and ends
        rungs.insert(0, rungs[0] // reduction)
    if rungs[0] > lowest:  # e.g. 4 epochs, reduction 3, min 1: 4/3 floors to 1
        rungs.insert(0, lowest)
    return tuple(rungs)


def promoted_count(networks: int, reduction: int, keep: int) -> int:
    """How many of a rung's networks train at the next rung."""
    return min(networks, max(keep, math.ceil(networks / reduction)))


def rung_plan(trials: int, rungs: tuple[int, ...], reduction: int, keep: int) -> list[tuple[int, int]]:
    """(epochs, at most how many networks) of each rung for ``trials`` searched candidates; [] at full fidelity."""
    if len(rungs) < 2:
        return []
    plan, networks = [(rungs[0], trials)], trials
    for epochs in rungs[1:]:
        networks = promoted_count(networks, reduction, keep)
        plan.append((epochs, networks))
    return plan


def extra_trainings(trials: int, rungs: tuple[int, ...], reduction: int, keep: int, references: int) -> int:
    """The most trainings halving adds to a run's ``trials`` searched candidates and its references: the rungs above
    the first, and each reference at the shortest rung. 0 at full fidelity."""
    plan = rung_plan(trials, rungs, reduction, keep)
    return sum(networks for _, networks in plan[1:]) + (references if plan else 0)


def promotions(table: pd.DataFrame, rungs: tuple[int, ...], reduction: int, keep: int,
               in_flight: set[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """The (architecture, rung) trainings needed now, best first; [] while a rung waits on trainings in flight; None
    when every rung is done. ``in_flight``: (architecture, rung) of the trainings running."""
    searched = _searched(table)
    for rung in range(len(rungs) - 1):
        here = searched[searched["rung"] == rung]
        if any(flight_rung == rung for _, flight_rung in in_flight):
            return []
        finished = here[here["status"].isin([TrialStatus.SCREENED, TrialStatus.COMPLETE]) & here["accuracy"].notna()]
        ranked = finished.sort_values(["accuracy", "flops", "trial"], ascending=[False, True, True])
        best = list(ranked["architecture"].drop_duplicates())
        chosen = best[:promoted_count(len(best), reduction, keep)]
        tried = set(searched[(searched["rung"] == rung + 1) & searched["status"].isin(ATTEMPTED)]["architecture"])
        needed = [(architecture, rung + 1) for architecture in chosen
                  if architecture not in tried and (architecture, rung + 1) not in in_flight]
        if needed:
            return needed
        if any(pair in in_flight for pair in ((architecture, rung + 1) for architecture in chosen)):
            return []
    return None


def reference_screens(table: pd.DataFrame, in_flight: set[str]) -> list[str]:
    """The references still to train at the shortest rung (besides their full-length training, which the verdict
    uses): they put networks of every rank into the rank agreement, where the promoted are only the best. The
    table is a study's, with every column (foundation/table.make_table)."""
    explore = table[(table["stage"].fillna("explore") == "explore") & (table["reference"].fillna("") != "")]
    screened = set(explore[explore["rung"].notna() & explore["status"].isin(ATTEMPTED)]["architecture"])
    references = explore[explore["rung"].isna()]["architecture"].drop_duplicates()
    return [architecture for architecture in references if architecture not in screened and architecture not in in_flight]


def rank_agreement(table: pd.DataFrame) -> list[dict]:
    """Between each rung and the next, and between the shortest and the last when there are more than two, on the
    networks trained at both: Kendall τ-b of their accuracies, its two-sided p-value and n
    (verdict/fidelity.rank_agreement), and whether τ is below the tool's one threshold for a proxy's fidelity
    (``fidelity.THRESHOLD``, which ``scalesearch check`` uses too). The networks are the promoted and the references,
    which train at the shortest rung and at full length: the promoted alone are the best of their rung, whose order
    says little of whether the cut was right."""
    ladder = _ladder(table)
    last = int(ladder["rung"].max()) if len(ladder) else 0
    pairs = [(rung, rung + 1) for rung in range(last)] + ([(0, last)] if last > 1 else [])
    out = []
    for low_rung, high_rung in pairs:
        lower, upper = ladder[ladder["rung"] == low_rung], ladder[ladder["rung"] == high_rung]
        tau, p_value, n = fidelity.rank_agreement(*({str(a): float(x) for a, x in zip(rows["architecture"], rows["accuracy"])}
                                                    for rows in (lower, upper)))
        out.append({"from_epochs": _epochs(lower), "to_epochs": _epochs(upper), "n": n, "kendall_tau": tau,
                    "p_value": p_value, "low": tau is not None and n >= FEWEST_TO_JUDGE and tau < fidelity.THRESHOLD})
    return out


def _ladder(table: pd.DataFrame) -> pd.DataFrame:
    """Every finished training of a rung: the searched networks' by their rung, the references' screen at rung 0
    and their full-length explore training at the last rung."""
    if "rung" not in table or table["rung"].isna().all():
        return table.iloc[0:0].assign(rung=pd.Series(dtype=int))
    finished = table[table["status"].isin([TrialStatus.SCREENED, TrialStatus.COMPLETE]) & table["accuracy"].notna()
                     & (table["stage"].fillna("explore") == "explore")]
    ranked = finished[finished["rung"].notna()]
    last = int(ranked["rung"].max())
    full_references = finished[finished["rung"].isna() & (finished["reference"].fillna("") != "")]
    ladder = pd.concat([ranked.assign(rung=ranked["rung"].astype(int)), full_references.assign(rung=last)])
    return ladder.drop_duplicates(["architecture", "rung"])


def agreement_lines(pairs: list[dict]) -> list[str]:
    """What a run says of its rungs' rank agreement (``rank_agreement``'s pairs), one line each; none at full
    fidelity."""
    lines = []
    for pair in pairs:
        head = f"halving {pair['from_epochs']} → {pair['to_epochs']} epochs"
        if pair["kendall_tau"] is None:
            lines.append(f"{head}: Kendall τ undefined over {pair['n']} network(s)")
            continue
        line = (f"{head}: Kendall τ = {pair['kendall_tau']:.2f} over {pair['n']} networks, the promoted and the "
                f"references (two-sided p = {pair['p_value']:.2f})")
        if pair["n"] < FEWEST_TO_JUDGE:
            line += f"; too few to judge the rungs by (with {pair['n']}, τ takes only a few values)"
        elif pair["low"]:
            line += (f"; below {fidelity.THRESHOLD:g}: the shorter rung does not rank the networks as the longer one "
                     "does, so its cut may have dropped the best: run again with --fidelity full to be sure")
        lines.append(line)
    return lines


def _epochs(rows: pd.DataFrame) -> int | None:
    epochs = rows["epochs"].dropna() if "epochs" in rows else ()
    return int(epochs.median()) if len(epochs) else None


def _searched(table: pd.DataFrame) -> pd.DataFrame:
    """The explore stage's searched trainings that a rung holds (references train at full length, outside the rungs)."""
    if "rung" not in table:
        return table.iloc[0:0].assign(rung=pd.Series(dtype="Int64"))
    rows = table[table["rung"].notna() & (table["reference"].fillna("") == "")]
    return rows.assign(rung=rows["rung"].astype(int))
