"""The confirm stage's plan (study/confirm.py), a pure function of the table: racing reads only the rounds so far,
the references' later seeds fill slots that would wait, and a round starts with its costliest network."""
from __future__ import annotations

from scalesearch.foundation.table import make_table
from scalesearch.study.confirm import fillers, plan


def _row(trial, architecture, seed, accuracy, *, reference=None, flops=1_000, stage=None, status="complete"):
    return {"trial": trial, "status": status, "reference": reference, "feasible": True, "alpha": 1.0, "beta": 1.0,
            "gamma": 1.0, "flops": flops, "accuracy": accuracy, "architecture": architecture, "seed": seed,
            "stage": stage or ("explore" if seed == 0 else "confirm")}


def _table(extra=()):
    rows = [_row(0, "A", 0, 0.50), _row(1, "B", 0, 0.47), _row(2, "R", 0, 0.45, reference="depth-only"),
            _row(3, "A", 1, 0.53), _row(4, "B", 1, 0.495), _row(5, "R", 1, 0.46, reference="depth-only"), *extra]
    return make_table(rows)


def test_racing_after_a_round_ignores_a_reference_seed_trained_ahead_of_it():
    # On seeds 0 and 1, A leads and B trails it beyond the noise: B is out of round 2. R's lucky seed 2, trained
    # early as a filler, would make R the leader and keep B in, if racing read it.
    early = _table([_row(6, "R", 2, 0.90, reference="depth-only")])
    assert plan(early, base_seed=0, seeds=3, top=2, in_flight=set()) == [("A", 2)]
    assert plan(_table(), base_seed=0, seeds=3, top=2, in_flight=set()) == [("A", 2), ("R", 2)]


def test_fillers_are_the_references_later_seeds_not_yet_tried_lowest_seed_first():
    table = make_table([_row(0, "A", 0, 0.5), _row(1, "R", 0, 0.4, reference="depth-only", flops=10),
                        _row(2, "W", 0, 0.4, reference="width-only", flops=30),
                        _row(3, "W", 1, 0.41, reference="width-only", flops=30)])
    assert fillers(table, base_seed=0, seeds=3, in_flight={("R", 1)}) == [("W", 2), ("R", 2)]
    assert fillers(table, base_seed=0, seeds=1, in_flight=set()) == []


def test_a_round_starts_with_its_costliest_network():
    table = make_table([_row(0, "small", 0, 0.50, flops=10), _row(1, "big", 0, 0.49, flops=99),
                        _row(2, "R", 0, 0.40, reference="depth-only", flops=50)])
    assert plan(table, base_seed=0, seeds=2, top=2, in_flight=set()) == [("big", 1), ("R", 1), ("small", 1)]
