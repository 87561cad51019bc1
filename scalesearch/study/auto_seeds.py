"""``--seeds auto``: after the confirm stage's fixed rounds, further rounds of paired seeds for the networks the verdict
compares, until its comparison is resolved at a look or every network has ``--max-seeds`` (verdict/sequential.py
says when the verdict looks, when a comparison is resolved and how sure each look must be).

Each round's networks are the verdict's own, decided on the rounds before it only: the winner, its rival (the best
single dimension, or the best confirmed compound), the paper's point and dWr. They get the next seed together, so every
comparison stays paired. Like the confirm stage, everything is derived from the table's finished rows: a resumed
run plans exactly what is missing, and which training of a round finished first changes nothing.
"""
from __future__ import annotations

import pandas as pd

from scalesearch.foundation.status import ATTEMPTED
from scalesearch.verdict.sequential import looks, resolved
from scalesearch.verdict.verdict import Verdict, decide

# The most networks a round trains: the winner, its rival, the paper's point, dWr.
PER_ROUND = 4


def extension(table: pd.DataFrame, *, base_seed: int, seeds: int, max_seeds: int, tie_break: str,
              in_flight: set[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """The (architecture, seed) trainings needed now; [] while a round waits on trainings in flight; None once the
    verdict's comparison is resolved or the seeds are spent.

    A network that becomes a member late (the rival is the best by mean, and that can change) first gets the further
    seeds it missed, so every comparison stays paired on all of them; the final verdict's members too, once a look
    resolves the comparison or the last round is done. Never more than ``max_extension_trainings`` in all, the figure
    the run announces."""
    plan = looks(seeds, max_seeds)
    points = plan.points or (seeds,)
    attempted = table[table["status"].isin(ATTEMPTED)]
    tried = set(zip(attempted["architecture"], attempted["seed"].fillna(base_seed).astype(int)))
    first = base_seed + seeds + 1  # the first further seed: the confirm stage judged on base + 1 … base + seeds
    allowance = max_extension_trainings(seeds, max_seeds) - sum(1 for _, seed in tried if seed >= first)
    for round_ in range(seeds, max_seeds):  # round_ judging seeds are done before it: base + 1 … base + round_
        seed = base_seed + round_ + 1
        verdict = decide(table[table["seed"].fillna(base_seed) < seed], tie_break, plan)
        if verdict is None:
            return None
        # A member that joined late (the rival by mean changed) first gets the seeds it missed, and the look waits
        # for them: otherwise the look would judge the winner against it on the confirm stage's seeds alone.
        missed = _missing(verdict, range(first, seed), tried)
        if missed:
            return _within(missed, allowance, in_flight)
        if round_ in points and resolved(_compared(verdict), max_seeds, plan.final_confidence,
                                         first_look=round_ == points[0]):
            ran_out = False
            break
        needed = _missing(verdict, range(seed, seed + 1), tried)
        if needed:
            return _within(needed, allowance, in_flight)
    else:
        ran_out = True
    # The final verdict's members get every further seed that any of them has (all of them once the rounds ran out),
    # so each of its comparisons is paired on all of them. A look can resolve after the fact, when a member that
    # joined late gets its missed seeds, while the winner already has the next round's seed.
    final = decide(table, tie_break, plan)
    if final is None:
        return None
    last = base_seed + max_seeds if ran_out else _last_seed(table, members(final), base_seed)
    needed = _missing(final, range(first, last + 1), tried)
    return _within(needed, allowance, in_flight) if needed else None


def _missing(verdict: Verdict, further_seeds: range, tried: set[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(architecture, seed) for seed in further_seeds for architecture in members(verdict)
            if (architecture, seed) not in tried]


def _within(needed: list[tuple[str, int]], allowance: int, in_flight: set[tuple[str, int]]):
    """What of ``needed`` to start now: none while the allowance is spent (None: the extension is over)."""
    if allowance <= 0:
        return None
    return [pair for pair in needed[:allowance] if pair not in in_flight]


def members(verdict: Verdict) -> list[str]:
    """The networks a round trains: those the verdict compares, the winner first."""
    networks = [verdict.winner, verdict.rival]
    networks += [comparison.network for comparison in (verdict.versus_paper, verdict.versus_fast_compound)
                 if comparison is not None]
    return list(dict.fromkeys(network.architecture for network in networks if network is not None))


def _last_seed(table: pd.DataFrame, architectures: list[str], base_seed: int) -> int:
    """The highest seed any of ``architectures`` has a finished or running training of."""
    rows = table[table["status"].isin(ATTEMPTED) & table["architecture"].isin(architectures)]
    return int(rows["seed"].fillna(base_seed).max()) if len(rows) else base_seed


def max_extension_trainings(seeds: int, max_seeds: int | None) -> int:
    return 0 if max_seeds is None else max(0, max_seeds - seeds) * PER_ROUND


def _compared(verdict: Verdict):
    return verdict.versus_single.difference if verdict.versus_single is not None else None
