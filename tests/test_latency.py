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
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.training.presets import PRESETS
from scalesearch.verdict.verdict import LATENCY_BAND, decide

TINY = PRESETS["cpu-tiny"]


def test_timing_alone_finds_the_network_with_49_times_the_pixels_slower_and_restores_the_thread_count():
    base = proxy_base(load_space("efficientnet_b0"), TINY.base_width, TINY.base_depth, TINY.base_resolution)
    small, large = scale(base, pixels=32), scale(base, pixels=224)
    threads = torch.get_num_threads()
    timings = time_alone({"small": small, "large": large}, 10, torch.device("cpu"), threads=1, rounds=9)
    assert set(timings) == {"small", "large"} and all(value > 0 for value in timings.values())
    assert timings["large"] > 1.5 * timings["small"]  # ~3x measured; per-layer overhead is most of the small one
    assert torch.get_num_threads() == threads


@pytest.mark.slow
def test_a_run_with_a_tie_times_the_tied_networks_alone_once_and_picks_the_fastest_with_analytic_objective(tmp_path):
    options = dict(objective="analytic", trials=4, seeds=3, confirm=3, objective_settings={"seed_noise": 0.05})
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
    fastest = per_network["min"].min()
    within = per_network.index[per_network["min"] <= fastest * (1 + LATENCY_BAND)]  # one speed (verdict.py)
    means = complete.groupby("architecture")["accuracy"].mean()
    assert verdict.winner.architecture in within and means[verdict.winner.architecture] == means[within].max()
    assert verdict.tie_figure == "latency_alone" and "timed alone after the search" in verdict.sentence
    exported = json.loads((outcome.run_dir / "winner.json").read_text())["verdict"]
    assert exported["tie_figure"] == "latency_alone" and exported["winner"]["architecture"] == verdict.winner.architecture
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
    options = dict(objective="analytic", trials=4, seeds=3, confirm=3, objective_settings={"seed_noise": 0.05})
    with pytest.warns(UserWarning, match="could not time the .* tied networks alone .*injected"):
        outcome = scalesearch.search(budget="2x", out=str(tmp_path / "run"), **options)
    assert outcome.succeeded and outcome.table["latency_ms_alone"].isna().all()
    assert decide(outcome.table, "latency").tie_figure == "latency"
