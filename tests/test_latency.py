"""The tie-break's latency: the tied networks timed alone after the search (cost/latency.py), real timings of real
networks; the search that leads to the tie runs on a real local Ray with the analytic objective standing in for the
training."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

import scalesearch
from scalesearch.cost.latency import time_alone
from scalesearch.foundation.table import make_table
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.training.presets import PRESETS
from scalesearch.verdict.verdict import LATENCY_BAND, TIE_MARGIN, decide

TINY = PRESETS["cpu-tiny"]


def _base():
    return proxy_base(load_space("efficientnet_b0"), TINY.base_width, TINY.base_depth, TINY.base_resolution)


def test_timing_alone_finds_the_network_with_49_times_the_pixels_slower_and_restores_the_thread_count():
    small, large = scale(_base(), pixels=32), scale(_base(), pixels=224)
    threads = torch.get_num_threads()
    timings = time_alone({"small": small, "large": large}, 10, torch.device("cpu"), threads=1, rounds=9)
    assert set(timings) == {"small", "large"} and all(value > 0 for value in timings.values())
    # The order, not a ratio: ~3x is measured (per-layer overhead is most of the small one), so a loaded machine
    # would have to triple the small one's median alone to flip it; the order is what the tie-break reads.
    assert timings["large"] > timings["small"]
    assert torch.get_num_threads() == threads


def test_timing_alone_interleaves_the_rounds_drops_the_warmup_and_takes_each_median(monkeypatch):
    """A scripted clock in place of the forward pass: which network ran when, and what each took."""
    import scalesearch.cost.latency

    small, large = scale(_base(), pixels=32), scale(_base(), pixels=48)
    name_by_pixels = {32: "small", 48: "large"}
    # Two warmup rounds at 100 ms (never counted), then five rounds, each network with one outlier the median ignores.
    script = {"small": iter([100, 100, 3, 1, 50, 2, 4]), "large": iter([100, 100, 12, 900, 10, 13, 11])}
    ran = []

    def scripted_forward_ms(model, inputs, device, autocast):
        ran.append(name_by_pixels[inputs.shape[-1]])
        return float(next(script[ran[-1]]))

    monkeypatch.setattr(scalesearch.cost.latency, "forward_ms", scripted_forward_ms)
    timings = time_alone({"small": small, "large": large}, 10, torch.device("cpu"), threads=1, rounds=5, warmup=2)
    assert timings == {"small": 3.0, "large": 12.0}
    # Each round starts one network later than the last, so a slow moment of the machine falls on each in turn.
    assert ran == ["small", "large", "large", "small"] * 3 + ["small", "large"]


def _trial_rows(architecture, alpha, accuracies, latency_ms, latency_ms_alone):
    """A searched network's completed trainings, one a seed, as the search's table holds them."""
    return [dict(architecture=architecture, status="complete", feasible=True, alpha=alpha, beta=1.1, gamma=1.1,
                 flops=1000, params=100, activations=1000, seed=seed, accuracy=accuracy, latency_ms=latency_ms,
                 latency_ms_alone=latency_ms_alone) for seed, accuracy in enumerate(accuracies)]


def test_the_tie_break_picks_the_best_mean_among_the_tied_networks_within_ten_percent_of_the_fastest_timed_alone():
    """A hand-made table as a search with a tie leaves it. The right answer, from first principles:

    - C has the best mean (0.680). A and B trail it by 0.0025 and 0.001 on average, and by at most 0.003 on any
      seed: the paired 95% intervals' low ends (−0.0037, −0.0022) are above −TIE_MARGIN (−0.005), so A, B and C
      are shown as good as each other: tied. D trails C by 0.06 on every seed: not tied, however fast it is. E is
      the fastest of all, and its interval with C contains 0, but its differences swing from −0.14 to +0.04: the
      seeds cannot tell it from C, which is not showing it as good (the rule before TIE_MARGIN tied and picked it).
    - Timed alone, A takes 2.00 ms, B 2.15 ms (7.5% more: within the 10% band, one speed with A) and C 2.60 ms
      (30% more: slower). Of A and B, B has the better mean (0.679 against 0.6775): B wins.
    - Every other reading picks another network: the fastest timed alone among the tied, A; the best mean, C; the
      fastest by the trials' own latency, C; D if the untied counted, E if "cannot tell" counted as tied.
    """
    records = (_trial_rows("A", 1.10, [0.618, 0.737, 0.6775], 3.0, 2.00)
               + _trial_rows("B", 1.15, [0.619, 0.7385, 0.6795], 3.5, 2.15)
               + _trial_rows("C", 1.20, [0.620, 0.740, 0.680], 1.0, 2.60)
               + _trial_rows("D", 1.25, [0.56, 0.68, 0.62], 0.5, None)
               + _trial_rows("E", 1.30, [0.66, 0.60, 0.69], 0.4, 1.50))
    table = make_table([dict(record, trial=number) for number, record in enumerate(records)])
    assert TIE_MARGIN == 0.005  # the margin the answer above is worked out with
    assert LATENCY_BAND == 0.10  # the band the answer above is worked out with
    verdict = decide(table, "latency")
    assert set(verdict.tied) == {"A", "B", "C"}
    assert verdict.tie_figure == "latency_ms_alone"  # E's figure does not count: E is not tied
    assert verdict.winner.architecture == "B"
    assert decide(table, "none").winner.architecture == "C"  # no tie-break: the best mean


@pytest.mark.slow
def test_a_run_with_a_tie_times_the_tied_networks_alone_once_and_picks_the_fastest_with_analytic_objective(tmp_path):
    options = dict(objective="analytic", trials=4, seeds=3, confirm=3, objective_settings={"flat": True, "seed_noise": 0.0005})
    outcome = scalesearch.search(budget="2x", out=str(tmp_path / "run"), **options)
    assert outcome.succeeded
    table = outcome.table
    verdict = decide(table, "latency")
    assert len(verdict.tied) >= 2, "the made-up seed noise should leave networks tied; the test needs a tie"
    complete = table[table["status"] == "complete"]
    timed = complete[complete["latency_ms_alone"].notna()]
    assert set(timed["architecture"]) == set(verdict.tied)  # the tied, each of its rows, and nothing else
    per_network = timed.groupby("architecture")["latency_ms_alone"].agg(["min", "max"])
    assert (per_network["min"] == per_network["max"]).all()  # one timing per network, on every row of it
    # Which of the tied wins, by these figures: the hand-made table above, whose answer is worked out by hand.
    assert verdict.winner.architecture in verdict.tied
    assert verdict.tie_figure == "latency_ms_alone" and "timed alone after the search" in verdict.sentence
    exported = json.loads((outcome.run_dir / "winner.json").read_text())["verdict"]
    assert exported["tie_figure"] == "latency_ms_alone" and exported["winner"]["architecture"] == verdict.winner.architecture
    assert pd.read_csv(outcome.run_dir / "trials.csv")["latency_ms_alone"].notna().sum() == len(timed)

    # A resume finds the timings in the study: the same figures, not timed again.
    resumed = scalesearch.search(out=str(tmp_path / "run"), resume=True)
    again = resumed.table[resumed.table["latency_ms_alone"].notna()]
    assert again.set_index("trial")["latency_ms_alone"].to_dict() == timed.set_index("trial")["latency_ms_alone"].to_dict()

    # --tie-break params times nothing.
    other = scalesearch.search(budget="2x", out=str(tmp_path / "params"), tie_break="params", **options)
    assert other.table["latency_ms_alone"].isna().all()


@pytest.mark.slow
def test_a_timing_that_fails_warns_and_leaves_the_run_complete_with_the_trials_own_latency_with_analytic_objective(
        tmp_path, monkeypatch):
    import scalesearch.cost.latency

    def device_gone(*args, **kwargs):
        raise RuntimeError("the device went away (injected)")

    monkeypatch.setattr(scalesearch.cost.latency, "time_alone", device_gone)
    options = dict(objective="analytic", trials=4, seeds=3, confirm=3, objective_settings={"flat": True, "seed_noise": 0.0005})
    with pytest.warns(UserWarning, match="could not time the .* tied networks alone .*injected"):
        outcome = scalesearch.search(budget="2x", out=str(tmp_path / "run"), **options)
    assert outcome.succeeded and outcome.table["latency_ms_alone"].isna().all()
    assert decide(outcome.table, "latency").tie_figure == "latency_ms"
