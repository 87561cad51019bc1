"""--curve: the winner and its rival at φ = 0, 1, 2 (the paper's Figure 3 on the run's proxy), trained on a real
local Ray; the analytic objective (with a made-up seed effect) stands in for the training."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import scalesearch
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.run_files import CURVE_FILE
from scalesearch.study.curve import curve_difference, curve_points
from scalesearch.study.planned import Planned, PlannedTrainings
from scalesearch.training.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def _search(out: Path, **options):
    settings = dict(objective="analytic", trials=4, seeds=2, confirm=2, curve=True,
                    objective_settings={"seed_noise": 0.02, "training_log": str(out.parent / f"{out.name}.log")})
    settings.update(options)
    return scalesearch.search(budget="2x", out=str(out), **settings)


def _trainings(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if json.loads(line)["event"] == "start")


@pytest.fixture(scope="module")
def curved_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curve")
    outcome = _search(folder / "run")
    return outcome, folder


@pytest.mark.slow
def test_the_curve_trains_the_base_and_phi_2_and_takes_phi_1_from_the_search_with_analytic_objective(curved_run):
    outcome, _ = curved_run
    assert outcome.succeeded
    curve = pd.read_csv(outcome.run_dir / CURVE_FILE)
    assert (curve["status"] == "complete").all()
    # φ 0 once (shared), φ 1 and 2 for winner and rival, 2 seeds each: the seeds that judged them (explore seed 0
    # chose them, so the confirm stage's 1 and 2).
    assert sorted(curve["key"]) == sorted(f"{role}:phi{phi}:seed{seed}" for role, phis in
                                          (("base", (0,)), ("winner", (1, 2)), ("rival", (1, 2))) for phi in phis for seed in (1, 2))
    table = outcome.table.set_index("trial")
    reused = curve[curve["phi"] == 1]
    for _, row in reused.iterrows():  # φ 1: the search's own trainings, not trained again
        trial = table.loc[int(row["from_trial"])]
        assert trial["accuracy"] == pytest.approx(row["accuracy"]) and int(trial["seed"]) == row["seed"]
    base = proxy_base(load_space("efficientnet_b0"), PRESETS["cpu-tiny"].base_width, PRESETS["cpu-tiny"].base_depth,
                      PRESETS["cpu-tiny"].base_resolution)
    for role in ("winner", "rival"):
        rows = curve[curve["role"] == role].sort_values("phi")
        one, two = rows[rows["phi"] == 1].iloc[0], rows[rows["phi"] == 2].iloc[0]
        # φ 2 is α², β², γ² of the recorded φ-1 coefficients, and costs more than φ 1.
        expected = scale(base, depth=one["alpha"] ** 2, width=one["beta"] ** 2, resolution_ratio=one["gamma"] ** 2)
        assert two["resolution"] == expected.resolution and two["alpha"] == pytest.approx(one["alpha"] ** 2)
        assert two["flops"] > one["flops"] > curve[curve["phi"] == 0]["flops"].iloc[0]
    winner_row = curve[(curve["role"] == "winner") & (curve["phi"] == 1)].iloc[0]
    verdict = json.loads((outcome.run_dir / "winner.json").read_text())["verdict"]
    assert winner_row["alpha"] == pytest.approx(verdict["winner"]["alpha"])


@pytest.mark.slow
def test_the_curve_points_carry_mean_interval_and_n_and_reach_the_report_and_summary_with_analytic_objective(curved_run):
    outcome, _ = curved_run
    curve = pd.read_csv(outcome.run_dir / CURVE_FILE)
    points = curve_points(curve)
    assert set(points["role"]) == {"winner", "rival"} and sorted(points["phi"].unique()) == [0, 1, 2]
    assert (points["n"] == 2).all() and (points["low"] <= points["mean"]).all() and (points["mean"] <= points["high"]).all()
    phi, difference = curve_difference(curve)
    assert phi == 2 and difference.n == 2
    html = (outcome.run_dir / "report.html").read_text()
    assert 'id="fig-curve"' in html and "Scaling curve" in html
    from scalesearch.cli.console import run_summary

    text = run_summary(outcome)
    assert "curve, winner" in text and "curve, rival" in text and "curve at φ=2" in text


@pytest.mark.slow
def test_a_resumed_curve_trains_only_what_is_missing_with_analytic_objective(curved_run):
    outcome, folder = curved_run
    path = outcome.run_dir / CURVE_FILE
    curve = pd.read_csv(path)
    lost = curve[(curve["role"] == "winner") & (curve["phi"] == 2)]
    curve.drop(lost.index).to_csv(path, index=False)  # as if stopped before these two finished
    log = folder / "run.log"
    before = _trainings(log)
    resumed = scalesearch.search(out=str(outcome.run_dir), resume=True)
    assert resumed.succeeded
    assert _trainings(log) - before == len(lost) == 2
    again = pd.read_csv(path)
    assert len(again) == len(curve) and (again["status"] == "complete").all()


def test_planned_trainings_skip_what_is_done_and_never_retry_a_failure(tmp_path):
    plan = [Planned(f"k{index}", {"index": index}, index, {"phi": index}) for index in range(4)]
    path = tmp_path / "stage.csv"
    stage = PlannedTrainings(path, plan, done={"k0": {"accuracy": 0.5}})
    first, second = stage.propose(), stage.propose()
    assert (first.trial, second.trial) == (1, 2)  # k0 is done; k1 is in flight when k2 is proposed
    stage.complete(first.trial, {"accuracy": 0.6, "train_seconds": 3.0})
    stage.fail(second.trial, "RuntimeError: boom")
    again = PlannedTrainings(path, plan)
    assert [planned.key for planned in again.pending()] == ["k3"]
    rows = again.table().set_index("key")
    assert rows.loc["k1", "accuracy"] == 0.6 and rows.loc["k2", "status"] == "failed" and rows.loc["k3", "status"] == "planned"
    assert again.trainings_started() == 3
    nan = again.propose()
    again.complete(nan.trial, {"accuracy": math.nan})
    assert PlannedTrainings(path, plan).table().set_index("key").loc["k3", "status"] == TrialStatus.FAILED


@pytest.mark.parametrize("value, words", [
    pytest.param("5-2", "must go upwards", id="downwards"),
    pytest.param("2", "at least two", id="one-phi"),
    pytest.param("a-b", "malformed", id="malformed"),
])
@pytest.mark.slow  # a scalesearch subprocess
def test_a_bad_curve_range_is_one_line_and_exit_2_before_any_work(tmp_path, value, words):
    result = subprocess.run([sys.executable, "-m", "scalesearch.cli.main", "run", "--budget", "2x", "--curve-phi", value,
                             "--out", str(tmp_path / "run"), "--objective", "analytic"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # a headless browser
def test_the_curve_figure_draws_both_lines_with_interval_bars_in_chromium_with_analytic_objective(curved_run):
    from tests.browser import Chromium, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    outcome, _ = curved_run
    with Chromium() as browser:
        browser.open((outcome.run_dir / "report.html").resolve().as_uri())
        assert browser.errors() == []
        # What is drawn, not what was passed: the points and interval bars of each line in the plot's SVG.
        drawn = browser.evaluate("Array.from(document.querySelectorAll('#fig-curve .scatterlayer .trace')).map(t => "
                                 "({points: t.querySelectorAll('path.point').length, "
                                 "bars: t.querySelectorAll('.errorbar').length}))")
        assert drawn == [{"points": 3, "bars": 3}] * 2  # φ 0, 1, 2 on each line, each with its 95% interval
