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
    # Explore seed 0 chose A and B; on the judging seeds 1 and 2 A leads and B trails it beyond the noise. B's
    # explore seed, the luck that chose it, would keep it in the race if racing read it.
    rows = [_row(0, "A", 0, 0.40), _row(1, "B", 0, 0.60), _row(2, "R", 0, 0.45, reference="depth-only"),
            _row(3, "A", 1, 0.50), _row(4, "B", 1, 0.47), _row(5, "R", 1, 0.45, reference="depth-only"),
            _row(6, "A", 2, 0.53), _row(7, "B", 2, 0.495), _row(8, "R", 2, 0.46, reference="depth-only"), *extra]
    return make_table(rows)


def test_racing_reads_the_judging_seeds_so_far_not_the_explore_seed_nor_a_seed_trained_ahead():
    # R's lucky seed 3, trained early as a filler, would make R the leader and keep B in, if racing read it.
    early = _table([_row(9, "R", 3, 0.90, reference="depth-only")])
    assert plan(early, base_seed=0, seeds=3, top=2, in_flight=set()) == [("A", 3)]
    assert plan(_table(), base_seed=0, seeds=3, top=2, in_flight=set()) == [("A", 3), ("R", 3)]


def test_the_confirm_stage_judges_on_seeds_drawn_after_the_explore_seed_chose():
    # --seeds 2: the explore seed (0) chose them; seeds 1 and 2 judge them, so the stage is done only after seed 2.
    table = _table()
    assert plan(table, base_seed=0, seeds=2, top=2, in_flight=set()) is None
    assert plan(make_table([row for row in table.to_dict("records") if row["seed"] < 2]), base_seed=0, seeds=2,
                top=2, in_flight=set()) == [("B", 2), ("A", 2), ("R", 2)]


def test_fillers_are_the_references_later_seeds_not_yet_tried_lowest_seed_first():
    table = make_table([_row(0, "A", 0, 0.5), _row(1, "R", 0, 0.4, reference="depth-only", flops=10),
                        _row(2, "W", 0, 0.4, reference="width-only", flops=30),
                        _row(3, "W", 1, 0.41, reference="width-only", flops=30)])
    assert fillers(table, base_seed=0, seeds=3, in_flight={("R", 1)}) == [("W", 2), ("R", 2), ("W", 3), ("R", 3)]
    assert fillers(table, base_seed=0, seeds=1, in_flight=set()) == []


def test_a_round_starts_with_its_costliest_network():
    table = make_table([_row(0, "small", 0, 0.50, flops=10), _row(1, "big", 0, 0.49, flops=99),
                        _row(2, "R", 0, 0.40, reference="depth-only", flops=50)])
    assert plan(table, base_seed=0, seeds=2, top=2, in_flight=set()) == [("big", 1), ("R", 1), ("small", 1)]


def test_paper_literal_keeps_its_explore_seed_and_is_not_judged_again():
    # No comparison of the verdict reads paper-literal (it is off the budget by design), so its further seeds would
    # buy no finding: the confirm stage trains the references it compares with.
    table = make_table([_row(0, "A", 0, 0.5), _row(1, "R", 0, 0.4, reference="depth-only"),
                        _row(2, "L", 0, 0.6, reference="paper-literal")])
    assert plan(table, base_seed=0, seeds=2, top=1, in_flight=set()) == [("A", 1), ("R", 1)]
    assert fillers(table, base_seed=0, seeds=2, in_flight=set()) == [("R", 1), ("R", 2)]


def test_an_off_budget_reference_cannot_lead_the_race_and_drop_what_could_win():
    # O, an off-budget reference, is far ahead of A and B on seeds 1-2; A leads what can win and B trails A by
    # little. Measured against O, both would be dropped; against A, B stays.
    def off_budget(row):
        return {**row, "feasible": False}
    rows = [_row(0, "A", 0, 0.50), _row(1, "B", 0, 0.49), off_budget(_row(2, "O", 0, 0.9, reference="depth-only")),
            _row(3, "A", 1, 0.50), _row(4, "B", 1, 0.49), off_budget(_row(5, "O", 1, 0.90, reference="depth-only")),
            _row(6, "A", 2, 0.52), _row(7, "B", 2, 0.50), off_budget(_row(8, "O", 2, 0.91, reference="depth-only"))]
    assert plan(make_table(rows), base_seed=0, seeds=3, top=2, in_flight=set()) == [("A", 3), ("B", 3), ("O", 3)]
