"""Statistics, racing and the verdict sentence, on hand-made tables (pure functions: no training)."""
import math

import pandas as pd
import pytest

from scalesearch.verdict.racing import dropped, leader
from scalesearch.verdict.statistics import CLAIM_CONFIDENCE, estimate, paired_difference, pooled_sd
from scalesearch.verdict.power import minimum_detectable_difference, paired_noise, power
from scalesearch.verdict.verdict import (
    BETTER, COMPOUND_WINS, NO_DIFFERENCE, NO_INTERVAL, SINGLE_WINS, WITHIN_NOISE, WORSE, TIE_MARGIN, Comparison, decide,
    difference_phrase,
)


def test_the_interval_is_students_t_with_n_minus_one_degrees_of_freedom():
    result = estimate([0.50, 0.52, 0.48])
    assert result.mean == pytest.approx(0.50) and result.sd == pytest.approx(0.02)
    assert result.half_width == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) = 4.3027


def test_one_seed_has_no_interval():
    result = estimate([0.5])
    assert result.n == 1 and result.low == -math.inf and result.high == math.inf and not result.excludes_zero()


def test_pairing_removes_the_noise_that_a_seed_puts_on_both_networks():
    # Seed 1 is a lucky seed for both: unpaired intervals overlap, the paired difference is clearly positive.
    better, worse = {0: 0.50, 1: 0.60, 2: 0.55}, {0: 0.47, 1: 0.57, 2: 0.52}
    assert estimate(better.values()).low < estimate(worse.values()).high
    difference = paired_difference(better, worse)
    assert difference.mean == pytest.approx(0.03) and difference.low > 0


def test_paired_differences_use_the_shared_seeds_only():
    assert paired_difference({0: 0.5, 1: 0.6}, {1: 0.4, 2: 0.3}).n == 1
    assert paired_difference({0: 0.5}, {1: 0.4}) is None


def test_racing_drops_only_what_cannot_win_and_never_a_protected_entry():
    samples = {"a": {0: 0.50, 1: 0.60, 2: 0.55}, "b": {0: 0.40, 1: 0.52, 2: 0.47},
               "c": {0: 0.49, 1: 0.61, 2: 0.50}, "ref": {0: 0.30, 1: 0.40, 2: 0.35}}
    assert leader(samples) == "a"
    assert dropped(samples, protected=frozenset({"ref"})) == {"b"}  # c is within the noise of a
    assert dropped({"a": {0: 0.9}, "b": {0: 0.1}}) == set()  # one seed: no interval, nobody is dropped


def _table(rows):
    records = []
    for architecture, label, alpha, beta, gamma, latency, accuracies in rows:
        for seed, accuracy in enumerate(accuracies):
            records.append(dict(architecture=architecture, reference=label or None, alpha=alpha, beta=beta,
                                gamma=gamma, status="complete", feasible=True, accuracy=accuracy, seed=seed, flops=1000,
                                latency_ms=latency, activations=1000, params=100))
    return pd.DataFrame.from_records(records)


def test_compound_wins_when_its_paired_interval_clears_the_best_single_dimension():
    table = _table([("c1", "", 1.1, 1.05, 1.1, 2.0, [0.60, 0.70, 0.65]),
                    ("r", "resolution-only", 1.0, 1.0, 1.41, 1.0, [0.50, 0.61, 0.55]),
                    ("d", "depth-only", 2.0, 1.0, 1.0, 1.0, [0.40, 0.50, 0.45]),
                    ("p", "paper", 1.2, 1.1, 1.15, 1.0, [0.55, 0.62, 0.60])])
    verdict = decide(table)
    assert verdict.outcome == COMPOUND_WINS and verdict.winner.architecture == "c1"
    assert verdict.versus_single.against == "resolution-only"
    assert verdict.versus_single.difference.mean == pytest.approx(0.0967, abs=1e-3)
    assert verdict.sentence.startswith("compound scaling wins") and "n=3" in verdict.sentence
    assert verdict.to_dict()["versus_paper"]["difference"]["n"] == 3


def test_compound_is_judged_against_the_best_single_dimension_not_the_one_with_the_most_seeds():
    # The winner leans to depth: it clearly beats width-only (which has the most seeds) but not depth-only, the best
    # single dimension. Claiming "compound wins" from the width-only comparison is what the depth-only world of the
    # calibration caught.
    rows = [("c1", "", 1.8, 1.02, 1.0, 2.0, [0.60, 0.70, 0.65, 0.62, 0.66]),
            ("w", "width-only", 1.0, 1.41, 1.0, 1.0, [0.50, 0.60, 0.55, 0.52, 0.55]),
            ("r", "resolution-only", 1.0, 1.0, 1.41, 1.0, [0.51, 0.61, 0.55]),
            ("d", "depth-only", 2.0, 1.0, 1.0, 1.0, [0.61, 0.69, 0.66])]
    verdict = decide(_table(rows), "none")
    assert verdict.winner.architecture == "c1" and verdict.outcome == NO_DIFFERENCE
    assert verdict.rival.architecture == "d" and verdict.versus_single.against == "depth-only"
    findings = {c.against: c.finding for c in verdict.versus_each_single}
    assert findings == {"width-only": BETTER, "resolution-only": BETTER, "depth-only": WITHIN_NOISE}
    assert [c["against"] for c in verdict.to_dict()["versus_each_single_dimension"]] == list(findings)
    # Depth-only clearly below the winner too: now compound wins, against depth-only.
    rows[3] = ("d", "depth-only", 2.0, 1.0, 1.0, 1.0, [0.55, 0.66, 0.60])
    verdict = decide(_table(rows), "none")
    assert verdict.outcome == COMPOUND_WINS and verdict.versus_single.against == "depth-only"


def test_a_single_dimension_is_judged_against_the_best_confirmed_compound_not_the_one_with_the_most_seeds():
    # As on the default task: resolution-only wins; a compound that is nearly resolution-only ties it on 3 seeds,
    # while the compound that the extra seeds went to is clearly worse. Against that one "a single dimension wins"
    # would be claimed; against the best confirmed compound, it is no difference.
    rows = [("r", "resolution-only", 1.0, 1.0, 1.88, 1.0, [0.92, 0.95, 0.90, 0.93, 0.91]),
            ("near", "", 1.0, 1.014, 1.88, 1.0, [0.93, 0.94, 0.90]),
            ("more", "", 1.0, 1.064, 1.85, 1.0, [0.86, 0.89, 0.85, 0.87, 0.86])]
    verdict = decide(_table(rows), "none")
    assert verdict.winner.architecture == "r" and verdict.rival.architecture == "near"
    assert verdict.outcome == NO_DIFFERENCE


def _tie_table():
    """c1 the best mean; c2 shown at most 0.003 worse (tied: within TIE_MARGIN at the interval's low end); r the
    fastest, its interval with c1 containing 0 but too wide to show it as good (not tied)."""
    return _table([("c1", "", 1.1, 1.05, 1.1, 5.0, [0.650, 0.700, 0.680]),
                   ("c2", "", 1.0, 1.2, 1.0, 1.0, [0.649, 0.698, 0.6785]),
                   ("r", "resolution-only", 1.0, 1.0, 1.41, 0.5, [0.58, 0.72, 0.62])])


def test_a_tie_is_said_and_the_faster_network_is_picked():
    verdict = decide(_tie_table(), tie_break="latency")
    assert verdict.outcome == NO_DIFFERENCE
    assert verdict.winner.architecture == "c2" and "picked by latency among 2 networks" in verdict.sentence
    assert set(verdict.tied) == {"c1", "c2"} and verdict.to_dict()["tie_margin"] == TIE_MARGIN
    assert decide(_tie_table(), tie_break="none").winner.architecture == "c1"  # the best mean


def test_a_network_the_seeds_cannot_tell_from_the_best_is_not_tied_with_it_unless_shown_as_good():
    # r is the fastest and its interval with the best contains 0, but it spans −0.14 … +0.07: a failure to tell
    # them apart, not a showing that r is as good. The old rule ("contains 0") picked r here.
    verdict = decide(_tie_table(), tie_break="latency")
    assert "r" not in verdict.tied and verdict.winner.architecture != "r"
    alone = _table([("c1", "", 1.1, 1.05, 1.1, 5.0, [0.650, 0.700, 0.680]),
                    ("r", "resolution-only", 1.0, 1.0, 1.41, 0.5, [0.58, 0.72, 0.62])])
    verdict = decide(alone, tie_break="latency")
    assert verdict.winner.architecture == "c1" and verdict.tied == ("c1",) and "picked by" not in verdict.sentence


def test_latency_timed_alone_after_the_search_outranks_the_trials_own_when_every_tied_network_has_it():
    table = _tie_table()
    table["latency_ms_alone"] = table["architecture"].map({"c1": 0.5, "c2": 0.9, "r": 0.1})
    verdict = decide(table, tie_break="latency")
    assert verdict.winner.architecture == "c1" and verdict.tie_figure == "latency_ms_alone"
    assert "picked by latency (timed alone after the search) among 2 networks" in verdict.sentence
    assert verdict.to_dict()["tie_figure"] == "latency_ms_alone"
    # One tied network without the figure (its timing never happened): all are compared by the trials' own.
    table.loc[table["architecture"] == "c2", "latency_ms_alone"] = None
    verdict = decide(table, tie_break="latency")
    assert verdict.winner.architecture == "c2" and verdict.tie_figure == "latency_ms"
    assert "timed alone" not in verdict.sentence


def test_latencies_within_ten_percent_are_one_speed_and_the_best_mean_among_them_wins():
    table = _tie_table()
    table["latency_ms_alone"] = table["architecture"].map({"c1": 1.02, "c2": 1.00, "r": 0.5})
    assert decide(table, tie_break="latency").winner.architecture == "c1"  # best mean of the two within 10%
    table["latency_ms_alone"] = table["architecture"].map({"c1": 1.12, "c2": 1.00, "r": 0.5})
    assert decide(table, tie_break="latency").winner.architecture == "c2"  # c1 is 12% slower: out of the band
    # The trials' own latency has no band: a run recorded before the timing alone keeps its pick, the fastest.
    table = table.drop(columns="latency_ms_alone")
    table["latency_ms"] = table["architecture"].map({"c1": 1.02, "c2": 1.00, "r": 0.5})
    assert decide(table, tie_break="latency").winner.architecture == "c2"


def test_a_single_dimension_wins_when_it_clears_every_compound_network():
    table = _table([("c1", "", 1.1, 1.05, 1.1, 2.0, [0.40, 0.50, 0.45]),
                    ("r", "resolution-only", 1.0, 1.0, 1.41, 1.0, [0.50, 0.61, 0.55])])
    verdict = decide(table)
    assert verdict.outcome == SINGLE_WINS and verdict.dimension == "resolution-only"
    assert verdict.sentence.startswith("a single dimension wins (resolution-only)")


def test_a_compound_winner_says_where_its_growth_goes_and_a_single_dimension_says_nothing_more():
    # A compound that puts almost all its growth into resolution is named with its shares, so "compound wins" can
    # be read for what it is; winner.json keeps them as numbers.
    table = _table([("c", "", 1.0, 1.021, 1.882, 1.0, [0.92, 0.93, 0.91]),
                    ("r", "resolution-only", 1.0, 1.0, 1.882, 1.0, [0.88, 0.89, 0.87])])
    verdict = decide(table)
    assert verdict.outcome == COMPOUND_WINS
    assert "winner α=1.000 β=1.021 γ=1.882 (growth: 97% resolution, 3% width), accuracy" in verdict.sentence
    winner = verdict.to_dict()["winner"]
    assert winner["largest_share"] == "resolution" and winner["growth_shares"]["depth"] == 0.0
    assert winner["growth_shares"]["width"] == pytest.approx(2 * math.log(1.021) / (2 * math.log(1.021 * 1.882)))
    assert sum(winner["growth_shares"].values()) == pytest.approx(1.0)
    single = decide(table[table["architecture"] == "r"])
    assert "growth" not in single.sentence and single.to_dict()["winner"]["largest_share"] == "resolution"


def test_no_network_on_budget_means_no_verdict():
    table = _table([("c1", "", 1.1, 1.05, 1.1, 2.0, [0.4])])
    table["feasible"] = False
    assert decide(table) is None


def test_a_searched_network_that_scales_one_dimension_is_no_compound_rival():
    # (1, 1.32, 1) was proposed by the search but scales width alone: the resolution-only winner must be compared
    # with a network that really scales two dimensions, and a win over it is that one dimension's.
    table = _table([("w", "", 1.0, 1.32, 1.0, 1.0, [0.70, 0.72, 0.71]),
                    ("r", "resolution-only", 1.0, 1.0, 1.41, 1.0, [0.80, 0.85, 0.82]),
                    ("c", "", 1.1, 1.05, 1.2, 1.0, [0.50, 0.55, 0.52])])
    verdict = decide(table)
    assert verdict.rival.architecture == "c" and "the best compound α=1.100" in verdict.sentence
    assert verdict.outcome == SINGLE_WINS and verdict.dimension == "resolution-only"
    width = decide(table[table["architecture"] != "r"])
    assert width.winner.architecture == "w" and width.outcome == SINGLE_WINS and width.dimension == "width-only"


def test_the_pooled_sd_weights_each_network_by_its_degrees_of_freedom_and_skips_one_seed():
    three, two, one = estimate([0.50, 0.52, 0.48]), estimate([0.40, 0.46]), estimate([0.9])
    expected = math.sqrt((2 * three.sd**2 + 1 * two.sd**2) / 3)
    assert pooled_sd([three, two, one]) == pytest.approx(expected)
    assert math.isnan(pooled_sd([one]))


def test_a_comparison_words_its_paired_difference_as_the_report_shows_it():
    difference = paired_difference({0: 0.50, 1: 0.60, 2: 0.55}, {0: 0.46, 1: 0.58, 2: 0.52})
    assert difference_phrase(difference) == f"+0.030 ± {difference.half_width:.3f} (n=3)"
    # Its interval excludes 0, and the phrase says so in words.
    assert difference.low > 0
    assert Comparison("paper", difference).phrase() == f"paper by {difference_phrase(difference)}, better beyond the noise"
    within = paired_difference({0: 0.50, 1: 0.60, 2: 0.55}, {0: 0.52, 1: 0.55, 2: 0.56})
    assert Comparison("paper", within).phrase() == f"paper by {difference_phrase(within)}"
    assert difference_phrase(paired_difference({0: 0.4}, {0: 0.5})) == "-0.100 (n=1: no interval)"


def test_each_comparison_says_what_it_found():
    better = paired_difference({0: 0.50, 1: 0.60, 2: 0.55}, {0: 0.46, 1: 0.58, 2: 0.52})
    worse = paired_difference({0: 0.46, 1: 0.58, 2: 0.52}, {0: 0.50, 1: 0.60, 2: 0.55})
    within = paired_difference({0: 0.50, 1: 0.60, 2: 0.55}, {0: 0.52, 1: 0.55, 2: 0.56})
    one = paired_difference({0: 0.5}, {0: 0.4})
    assert [Comparison("x", d).finding for d in (better, worse, within, one, None)] == [
        BETTER, WORSE, WITHIN_NOISE, NO_INTERVAL, NO_INTERVAL]


def test_the_power_of_the_paired_t_test_is_the_noncentral_t_one():
    # The figures of a paired t-test at 95%: a true difference of 2 sd is found in 47% of runs at n = 3 and 91% at
    # n = 5; one of 1 sd in 18% and 40% (noncentral t, as any power table gives them).
    assert power(2.0, 1.0, 3) == pytest.approx(0.4707, abs=5e-4)
    assert power(1.0, 1.0, 3) == pytest.approx(0.1793, abs=5e-4)
    assert power(2.0, 1.0, 5) == pytest.approx(0.9089, abs=5e-4)
    assert power(1.0, 1.0, 5) == pytest.approx(0.4014, abs=5e-4)
    detectable = minimum_detectable_difference(0.02, 8)
    assert power(detectable, 0.02, 8) == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_difference(0.02, 3) > minimum_detectable_difference(0.02, 8)
    assert minimum_detectable_difference(0.02, 1) == math.inf


def test_the_paired_noise_removes_network_and_seed_effects():
    # A network effect and a seed effect, and a residual of known size: the additive model recovers the residual only.
    residual = [[0.01, -0.01, 0.0], [-0.01, 0.01, 0.0], [0.0, 0.0, 0.0]]
    samples = {f"n{i}": {seed: 0.5 + 0.1 * i + 0.04 * seed + residual[i][seed] for seed in range(3)} for i in range(3)}
    noise = paired_noise(samples)
    expected = math.sqrt(2 * sum(value**2 for row in residual for value in row) / 4)  # (3 - 1)(3 - 1) = 4 df
    assert noise.sd == pytest.approx(expected) and noise.degrees_of_freedom == 4 and noise.networks == 3
    assert paired_noise({"a": {0: 0.5, 1: 0.6}}) is None  # one network has no paired noise


def test_a_no_difference_verdict_says_what_it_could_have_seen():
    table = _table([("c1", "", 1.1, 1.05, 1.1, 2.0, [0.60, 0.70, 0.65]),
                    ("w", "width-only", 1.0, 1.41, 1.0, 1.0, [0.61, 0.68, 0.66]),
                    ("f", "dWr", 1.07, 1.32, 1.04, 1.5, [0.59, 0.71, 0.64])])
    verdict = decide(table, "none")
    assert verdict.outcome == NO_DIFFERENCE
    noise = paired_noise({network: dict(enumerate(values)) for network, values in (
        ("c1", [0.60, 0.70, 0.65]), ("w", [0.61, 0.68, 0.66]), ("f", [0.59, 0.71, 0.64]))})
    detectable = verdict.to_dict()["minimum_detectable_difference"]
    assert detectable["n"] == 3 and detectable["paired_sd"] == pytest.approx(noise.sd)
    # At the claims' level (98%), the level the comparison it speaks for is judged at.
    assert detectable["confidence"] == pytest.approx(CLAIM_CONFIDENCE)
    assert detectable["value"] == pytest.approx(minimum_detectable_difference(noise.sd, 3, confidence=CLAIM_CONFIDENCE))
    assert f"a difference of {detectable['value']:.3f} or more would have been found with 80% power at n = 3" in verdict.sentence
    assert verdict.versus_fast_compound is not None and verdict.versus_fast_compound.against == "dWr"
    assert verdict.to_dict()["versus_fast_compound"]["finding"] == WITHIN_NOISE


def test_a_win_over_the_fast_compound_rule_is_said_in_words():
    table = _table([("c1", "", 1.1, 1.05, 1.1, 2.0, [0.60, 0.70, 0.65]),
                    ("w", "width-only", 1.0, 1.41, 1.0, 1.0, [0.61, 0.69, 0.66]),
                    ("f", "dWr", 1.07, 1.32, 1.04, 1.5, [0.50, 0.61, 0.55])])
    verdict = decide(table, "none")
    assert verdict.versus_fast_compound.finding == BETTER
    phrase = difference_phrase(verdict.versus_fast_compound.difference)
    assert f"dWr by {phrase}, better beyond the noise" in verdict.sentence


def test_the_rival_is_a_confirmed_network_not_one_lucky_explore_seed():
    # A compound network with one seed scores higher than the confirmed one, but the comparison needs paired seeds.
    table = _table([("w", "width-only", 1.0, 1.41, 1.0, 1.0, [0.60, 0.70, 0.65]),
                    ("c3", "", 1.1, 1.05, 1.1, 2.0, [0.58, 0.69, 0.64]),
                    ("c1", "", 1.2, 1.1, 1.05, 2.0, [0.75])])
    verdict = decide(table, "none")
    assert verdict.winner.architecture == "w" and verdict.rival.architecture == "c3"
    assert verdict.versus_single.difference.n == 3


def test_power_stays_a_number_far_in_the_tails():
    # A difference of thousands of sds (a stand-in objective's repeatable noise): scipy's noncentral t gives NaN there.
    assert power(0.25, 1e-5, 3) == 1.0 and power(0.0, 1e-5, 3) < 0.06
    assert 0 < minimum_detectable_difference(1e-5, 3) < 1e-3


def test_the_winner_line_and_winner_json_say_the_verdicts_mean_and_n_not_the_explore_seeds():
    # The explore seed chose A (0.90, lucky); the confirm seeds judge it. The winner line once said "over 3 seeds"
    # and 0.667 beside the verdict's n=2 and 0.55.
    from scalesearch.foundation.table import make_table
    from scalesearch.runs.winner import pick_winner

    table = make_table([dict(trial=k, status="complete", reference=None, feasible=True, alpha=1.0, beta=1.0, gamma=1.2,
                             flops=1000, accuracy=accuracy, architecture="A", seed=seed,
                             stage="explore" if seed == 0 else "confirm")
                        for k, (seed, accuracy) in enumerate([(0, 0.90), (1, 0.50), (2, 0.60)])])
    winner, verdict = pick_winner(table), decide(table)
    assert winner["seeds"] == verdict.winner.accuracy.n == 2
    assert winner["accuracy"] == pytest.approx(verdict.winner.accuracy.mean) and winner["accuracy"] == pytest.approx(0.55)
