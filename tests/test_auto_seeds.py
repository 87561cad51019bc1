"""--seeds auto: the looks' level, when a comparison is resolved, and the further rounds a real study plans, replayed
with a stand-in for training (worlds with a known answer: scalesearch/testing/worlds.py)."""
from __future__ import annotations

import math

import pytest

from scalesearch.pipeline.options import RunOptions, check_seeds, seed_plan
from scalesearch.study.auto_seeds import max_extension_trainings, members
from scalesearch.study.settings import SearchSettings
from scalesearch.testing.calibration import replay
from scalesearch.testing.worlds import World
from scalesearch.verdict.sequential import look_points, looks, resolved
from scalesearch.verdict.statistics import estimate
from tests.helpers import BASE_FLOPS, TINY


def test_the_verdict_looks_a_few_times_spending_two_percent_over_all_looks_most_at_the_last():
    assert look_points(3, None) == [3] and look_points(3, 8) == [3, 5, 8] and look_points(3, 3) == [3]
    assert looks(3, 8).count == 3 and looks(3, 6).count == 3 and looks(5, 8).count == 2 and looks(3, None).count == 1
    assert looks(3, None).confidence_at(3) == pytest.approx(0.98) and looks(3, 3).confidence_at(3) == pytest.approx(0.98)
    default = looks(3, 8)
    spent = [1 - default.confidence_at(n) for n in (3, 5, 8)]
    assert sum(spent) == pytest.approx(0.02)  # Bonferroni: at most 2% over the three looks together
    # O'Brien–Fleming's shares (Lan & DeMets): 2 − 2Φ(2.326/√t) by t = 3/8 and 5/8 of the last look's seeds.
    assert spent == pytest.approx([0.000145, 0.003109, 0.016746], abs=2e-6)
    assert default.confidence_at(4) == default.confidence_at(3) and default.confidence_at(7) == default.confidence_at(5)
    assert default.final_confidence == default.confidence_at(8)


def test_a_comparison_is_resolved_when_decided_or_when_more_seeds_could_not_decide_it():
    decided = estimate([0.05, 0.06, 0.055], 0.99)
    assert decided.low > 0 and resolved(decided, 8, 0.99)
    flat = estimate([0.01, -0.012, 0.002], 0.99)  # a mean a tenth of its sd: no power at 8 seeds
    assert resolved(flat, 8, 0.99)
    assert not resolved(flat, 8, 0.99, first_look=True)  # three seeds say too little to give up on a difference
    promising = estimate([0.04, 0.01, 0.06], 0.99)  # not decided at n = 3, likely at n = 8
    assert not resolved(promising, 8, 0.99)
    assert resolved(promising, 3, 0.99)  # the seeds are spent
    assert resolved(None, 8, 0.99)


@pytest.mark.parametrize("given, fixed, most", [(3, 3, None), ("auto", 3, 8), ("AUTO", 3, 8), ("5", 5, None)])
def test_seeds_are_a_number_or_auto(given, fixed, most):
    options = RunOptions(seeds=given)
    check_seeds(options)
    assert seed_plan(options) == (fixed, most)


def _settings(seed: int, max_seeds: int | None) -> SearchSettings:
    return SearchSettings(budget=2.0, sampler="random", trials=4, seed=seed, seeds=3, confirm=2, max_seeds=max_seeds)


@pytest.mark.slow  # a dozen replays of a whole study
def test_auto_seeds_stop_at_once_on_a_plain_answer_with_a_stand_in_for_training():
    # A planted effect of 40 paired sds: the first look decides, and no further seed is trained.
    fixed = replay(World("compound", 40.0, replay=1), TINY, BASE_FLOPS, _settings(1, None))
    auto = replay(World("compound", 40.0, replay=1), TINY, BASE_FLOPS, _settings(1, 6))
    assert auto.verdict.outcome == fixed.verdict.outcome and auto.trainings == fixed.trainings
    assert auto.verdict.looks.count == 3 and auto.verdict.confidence == pytest.approx(looks(3, 6).confidence_at(3))


@pytest.mark.slow  # replays of a whole study
def test_auto_seeds_add_paired_rounds_for_what_the_verdict_compares_with_a_stand_in_for_training(tmp_path):
    # A small effect (1 paired sd) seldom resolves at 3 seeds: further rounds follow, each for the networks the verdict
    # compares, and no network gets more than --max-seeds.
    extended = 0
    for index in range(4):
        folder = tmp_path / f"replay{index}"
        result = replay(World("compound", 1.0, replay=index), TINY, BASE_FLOPS, _settings(index, 6), folder=folder)
        fixed = replay(World("compound", 1.0, replay=index), TINY, BASE_FLOPS, _settings(index, None))
        from scalesearch.foundation.table import load_table

        table = load_table(folder)
        complete = table[table["status"] == "complete"]
        judging = complete[complete["stage"] == "confirm"]  # the explore seed chose them; these judge them
        assert judging.groupby("architecture")["seed"].nunique().max() <= 6
        assert not (judging["seed"] == index).any()  # never the explore seed (the run's --seed) again
        later = complete[complete["seed"] > index + 3]
        assert result.trainings - fixed.trainings == len(later) <= max_extension_trainings(3, 6)
        extended += len(later) > 0
        if len(later):
            # Every network the final verdict compares has every further seed the winner has: a rival that became
            # the best late got the seeds it missed, so each comparison is paired on all of them (or the announced
            # allowance ran out first).
            seeds_of = later.groupby("architecture")["seed"].apply(set)
            winner_seeds = seeds_of.get(result.verdict.winner.architecture, set())
            if len(later) < max_extension_trainings(3, 6):
                assert all(seeds_of.get(name, set()) == winner_seeds for name in members(result.verdict))
    assert extended >= 1, "no replay needed a further seed: the test does not test the extension"
    assert math.isfinite(result.verdict.confidence)
