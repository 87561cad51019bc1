"""The worlds with a known answer (scalesearch/testing/worlds.py) say what their docstring promises: the benches'
error rates and regrets are only as true as these truths."""
from __future__ import annotations

import math

import pytest

from scalesearch.testing.worlds import World, drawn_peak

LOG_BUDGET = math.log(2.0)


def shaped(depth_share: float, width_share: float, resolution_share: float) -> tuple[float, float, float]:
    """(depth, width, resolution ratio) of a 2× network that spends the budget in these shares."""
    return (math.exp(depth_share * LOG_BUDGET), math.exp(width_share * LOG_BUDGET / 2),
            math.exp(resolution_share * LOG_BUDGET / 2))


def test_a_peak_world_is_best_at_its_peak_and_the_nearest_single_dimension_is_delta_below():
    world = World("peak", delta=3.0, peak=(0.6, 0.1, 0.3))
    at_peak = world.truth(*shaped(0.6, 0.1, 0.3))
    assert at_peak == pytest.approx(world.base_accuracy + world.effect)
    assert world.effect == pytest.approx(3.0 * math.sqrt(2) * world.own_sd)
    singles = [world.truth(*shaped(*corner)) for corner in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    assert max(singles) == pytest.approx(world.base_accuracy)  # depth-only, the nearest
    assert singles[0] > singles[2] > singles[1]  # the farther from the peak, the worse
    # Concave: halfway between the peak and the paper-like split is better than the split itself.
    paper_like = (0.3, 0.3, 0.4)
    halfway = tuple((a + b) / 2 for a, b in zip(paper_like, world.peak))
    assert at_peak > world.truth(*shaped(*halfway)) > world.truth(*shaped(*paper_like))


def test_a_peak_is_drawn_over_every_split_the_same_for_a_replay_and_kept_through_other_noise():
    peaks = [drawn_peak(replay) for replay in range(300)]
    assert all(min(peak) >= 0 and sum(peak) == pytest.approx(1.0) for peak in peaks)
    assert drawn_peak(7) == drawn_peak(7) == World("peak", 2.0, replay=7).peak
    # Uniform over the triangle: each dimension leads in about a third of the draws, and the mean share is 1/3.
    for dimension in range(3):
        leads = sum(max(range(3), key=peak.__getitem__) == dimension for peak in peaks)
        assert 70 <= leads <= 130
        assert sum(peak[dimension] for peak in peaks) / len(peaks) == pytest.approx(1 / 3, abs=0.04)
    world = World("peak", 2.0, replay=7)
    other_noise = World("peak", 2.0, replay=-8, peak=world.peak)
    shape = shaped(0.2, 0.5, 0.3)
    assert world.truth(*shape) == other_noise.truth(*shape)
    assert world.accuracy("net", 0, *shape) != other_noise.accuracy("net", 0, *shape)


def test_an_unknown_world_is_refused():
    with pytest.raises(ValueError, match="unknown world"):
        World("plateau")


def test_a_verdict_is_graded_against_the_answer_right_wrong_or_undecided():
    from scalesearch.testing.calibration import COMPOUND, RIGHT, UNDECIDED, WRONG, graded
    from scalesearch.verdict.verdict import COMPOUND_WINS, NO_DIFFERENCE, SINGLE_WINS

    assert graded(NO_DIFFERENCE, "", None) == RIGHT and graded(COMPOUND_WINS, "", None) == WRONG
    assert graded(SINGLE_WINS, "width-only", None) == WRONG
    assert graded(NO_DIFFERENCE, "", COMPOUND) == UNDECIDED == graded(NO_DIFFERENCE, "", "width-only")
    assert graded(COMPOUND_WINS, "", COMPOUND) == RIGHT and graded(COMPOUND_WINS, "", "width-only") == WRONG
    assert graded(SINGLE_WINS, "width-only", "width-only") == RIGHT
    assert graded(SINGLE_WINS, "depth-only", "width-only") == WRONG == graded(SINGLE_WINS, "width-only", COMPOUND)
