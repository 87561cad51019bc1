"""The confirm stage's plan: which network to train with which seed next, as a pure function of the table.

The top ``top`` distinct networks of the explore stage (on budget, by accuracy) and every reference the verdict
compares with (``references.COMPARED``) are trained again with seeds base+1, base+2, … base+``seeds``: the explore
seed (base) chose them, these judge them, so the luck that chose a network is not judged again
(verdict.judging_rows, docs/design.md §4). Seeds go round by round; after each round, racing drops what cannot win
(verdict/racing.py), on the judging seeds alone, except the references, which the verdict needs; only an on-budget
network can lead the race, since only one can win. Everything is derived from the finished rows, so a resumed run
plans exactly what is missing.

Racing after round r reads only seeds up to r, so its decisions never depend on which trainings happened to
finish first. That frees the references' later seeds (they are never dropped) to fill a slot that would otherwise
wait: while the explore stage's last trainings finish, or while a round finishes (``fillers``). Within a round the
costliest networks go first, so the round's last training is a short one.
"""
from __future__ import annotations

import pandas as pd

from scalesearch.foundation.references import COMPARED
from scalesearch.foundation.status import ATTEMPTED, TrialStage, TrialStatus
from scalesearch.verdict.racing import dropped

EXPLORE, CONFIRM = TrialStage.EXPLORE, TrialStage.CONFIRM


def entries(table: pd.DataFrame, top: int) -> tuple[list[str], frozenset[str]]:
    """(architectures in the confirm stage, the references among them) from the explore stage's results."""
    explore = table[_stage(table) == EXPLORE]
    done = explore[(explore["status"] == TrialStatus.COMPLETE).fillna(False) & explore["accuracy"].notna()]
    labelled = done["reference"].fillna("") != ""
    searched = done[~labelled & done["feasible"].fillna(False).astype(bool)]
    best = searched.sort_values(["accuracy", "flops", "trial"], ascending=[False, True, True])
    chosen = list(best["architecture"].drop_duplicates().head(top))
    references = list(done[done["reference"].isin(COMPARED).fillna(False)]["architecture"].drop_duplicates())
    return list(dict.fromkeys(chosen + references)), frozenset(references)


def plan(table: pd.DataFrame, *, base_seed: int, seeds: int, top: int,
         in_flight: set[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """The (architecture, seed) trainings needed now, in order; [] while a round waits on trainings in flight;
    None when the confirm stage is done."""
    if seeds <= 1:
        return None
    racing, protected = entries(table, top)
    attempted = table[table["status"].isin(ATTEMPTED)]  # a failed seed too: it would fail again
    tried = _tried(attempted, base_seed)
    complete = attempted[(attempted["status"] == TrialStatus.COMPLETE) & attempted["accuracy"].notna()]
    samples: dict[str, dict[int, float]] = {architecture: {} for architecture in racing}
    for architecture, seed, accuracy in zip(complete["architecture"], complete["seed"].fillna(base_seed), complete["accuracy"]):
        if architecture in samples:
            samples[architecture][int(seed)] = float(accuracy)
    flops = _flops(table)
    on_budget = _on_budget(table)
    for round_ in range(1, seeds + 1):
        seed = base_seed + round_
        needed = [(architecture, seed) for architecture in racing if (architecture, seed) not in tried]
        if needed:
            needed.sort(key=lambda pair: -flops.get(pair[0], 0))  # longest first: a short training ends the round
            return [pair for pair in needed if pair not in in_flight]
        scored = {architecture: {s: a for s, a in samples[architecture].items() if base_seed < s <= seed}
                  for architecture in racing}
        out = dropped({architecture: seeds_ for architecture, seeds_ in scored.items() if seeds_}, protected,
                      can_win=on_budget)
        racing = [architecture for architecture in racing if architecture not in out]
    return None


def fillers(table: pd.DataFrame, *, base_seed: int, seeds: int, in_flight: set[tuple[str, int]]) -> list[tuple[str, int]]:
    """Seeds of the references not yet trained nor in flight, lowest seed and costliest first: trainings the
    confirm stage will need whatever racing decides, to start while it waits on results."""
    if seeds <= 1:
        return []
    references = sorted(entries(table, top=0)[1])  # sorted: equal FLOPs go in the same order on every run
    tried = _tried(table[table["status"].isin(ATTEMPTED)], base_seed)
    flops = _flops(table)
    wanted = [(architecture, base_seed + round_) for round_ in range(1, seeds + 1) for architecture in references]
    wanted.sort(key=lambda pair: (pair[1], -flops.get(pair[0], 0)))
    return [pair for pair in wanted if pair not in tried and pair not in in_flight]


def _tried(attempted: pd.DataFrame, base_seed: int) -> set[tuple[str, int]]:
    """(architecture, seed) of every training already attempted."""
    return set(zip(attempted["architecture"], attempted["seed"].fillna(base_seed).astype(int)))


def _on_budget(table: pd.DataFrame) -> frozenset[str]:
    """The architectures within the budget: the only ones a verdict can name the winner."""
    feasible = table["feasible"].astype("boolean").fillna(False).astype(bool)
    return frozenset(table.loc[feasible, "architecture"].dropna().astype(str))


def _flops(table: pd.DataFrame) -> dict[str, float]:
    known = table.dropna(subset=["architecture", "flops"])
    return {str(architecture): float(flops) for architecture, flops in zip(known["architecture"], known["flops"])}


def judging_seeds(base_seed: int, seeds: int) -> list[int]:
    """The seeds that judge a network under fixed ``--seeds``: the confirm stage's, after the explore seed that chose
    it; with one seed (no confirm stage), the explore seed itself."""
    return [base_seed] if seeds <= 1 else list(range(base_seed + 1, base_seed + seeds + 1))


def max_confirm_trainings(references: int, *, seeds: int, top: int) -> int:
    """The most the confirm stage can train (racing usually trains fewer)."""
    return seeds * (top + references) if seeds > 1 else 0


def _stage(table: pd.DataFrame) -> pd.Series:
    return table["stage"].fillna(EXPLORE) if "stage" in table else pd.Series(EXPLORE, index=table.index)
