"""scalesearch check: the confirmed networks trained again for N× the proxy's epochs, Kendall τ between the two
rankings in the run folder and its report; resumable. A real local Ray; the analytic objective, with a made-up
seed-and-length effect, stands in for the training."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import kendalltau

import scalesearch
from scalesearch.foundation.errors import InputError
from scalesearch.pipeline.check import check
from scalesearch.foundation.table import load_table
from scalesearch.foundation.run_files import CHECK_TABLE
from scalesearch.runs.check_files import read_fidelity
from scalesearch.verdict.fidelity import CheckedNetwork, Fidelity, rank_agreement
from scalesearch.verdict.verdict import networks

ROOT = Path(__file__).resolve().parents[1]


def _trainings(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if json.loads(line)["event"] == "start")


@pytest.fixture(scope="module")
def checked_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check")
    log = folder / "trainings.log"
    outcome = scalesearch.search(budget="2x", out=str(folder / "run"), objective="analytic", trials=4, seeds=2, confirm=2,
                                 objective_settings={"seed_noise": 0.03, "training_log": str(log)})
    assert outcome.succeeded
    before = _trainings(log)
    fidelity = check(outcome.run_dir, epochs_factor=3)
    return outcome.run_dir, fidelity, log, before


@pytest.mark.slow
def test_the_check_trains_each_confirmed_network_once_at_n_times_the_epochs_with_analytic_objective(checked_run):
    run_dir, fidelity, log, before = checked_run
    table = load_table(run_dir)
    confirmed = set(table[table["stage"] == "confirm"]["architecture"])
    results = pd.read_csv(run_dir / CHECK_TABLE)
    assert set(results["architecture"]) == confirmed and len(results) == len(confirmed)  # one seed each
    assert (results["epochs"] == 3 * 4).all() and (results["status"] == "complete").all()  # cpu-tiny: 4 epochs
    assert _trainings(log) - before == len(confirmed)
    assert fidelity.proxy_epochs == 4 and fidelity.longer_epochs == 12 and fidelity.n == len(confirmed)


@pytest.mark.slow
def test_the_checks_tau_is_kendalls_between_the_proxy_means_and_the_longer_trainings_with_analytic_objective(checked_run):
    run_dir, fidelity, _, _ = checked_run
    proxy = {network.architecture: network.accuracy.mean for network in networks(load_table(run_dir))}
    results = pd.read_csv(run_dir / CHECK_TABLE).set_index("architecture")["accuracy"]
    shared = sorted(results.index)
    expected = kendalltau([proxy[key] for key in shared], [results[key] for key in shared]).statistic
    assert fidelity.tau == pytest.approx(expected)
    stored = read_fidelity(run_dir)
    assert stored == fidelity  # check.json holds exactly what was returned
    assert (fidelity.warning is not None) == (fidelity.tau < 0.6)
    html = (Path(run_dir) / "report.html").read_text()
    assert 'id="fidelity"' in html and f"Kendall τ = {fidelity.tau:.2f}" in html


@pytest.mark.slow
def test_a_check_run_again_trains_only_what_is_missing_with_analytic_objective(checked_run):
    run_dir, _, log, _ = checked_run
    path = Path(run_dir) / CHECK_TABLE
    results = pd.read_csv(path)
    results.iloc[1:].to_csv(path, index=False)  # as if stopped before the first had finished
    before = _trainings(log)
    again = check(run_dir, epochs_factor=3)
    assert _trainings(log) - before == 1 and len(pd.read_csv(path)) == len(results)
    assert again.tau is not None


def test_rank_agreement_is_one_for_the_same_order_and_minus_one_for_the_reverse():
    proxy = {"a": 0.5, "b": 0.4, "c": 0.3, "d": 0.2}
    assert rank_agreement(proxy, {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.1})[0] == pytest.approx(1.0)
    assert rank_agreement(proxy, {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4})[0] == pytest.approx(-1.0)
    assert rank_agreement(proxy, {"a": 0.5, "z": 0.1}) == (None, None, 1)  # one shared network: no ranking
    assert rank_agreement(proxy, {key: 0.5 for key in proxy})[0] is None  # a ranking of ties says nothing


def test_a_tau_below_the_threshold_warns_plainly_and_one_above_does_not():
    network = CheckedNetwork("a", "x", 0.5, 3, 0.6, 1)
    low = Fidelity(4, 4, 16, [0], [network], tau=0.33, p_value=0.75, n=4)
    high = Fidelity(4, 4, 16, [0], [network], tau=0.8, p_value=0.05, n=6)
    assert "does not predict" in low.warning and "τ 0.33 < 0.6" in low.warning
    assert high.warning is None
    assert Fidelity.from_json(low.to_json()) == low


@pytest.mark.parametrize("arguments, words", [
    pytest.param(["{tmp}"], "is not a scalesearch run folder", id="not-a-run"),
    pytest.param(["{tmp}/nowhere"], "is not a scalesearch run folder", id="no-folder"),
])
def test_a_check_of_a_folder_that_is_not_a_run_is_one_line_and_exit_2(tmp_path, arguments, words):
    arguments = [argument.format(tmp=tmp_path) for argument in arguments]
    result = subprocess.run([sys.executable, "-m", "scalesearch.cli.main", "check", *arguments],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("options, words", [
    pytest.param({"epochs_factor": 0}, "--epochs-factor must be at least 1", id="factor-0"),
    pytest.param({"seeds": 0}, "--seeds must be at least 1", id="seeds-0"),
])
def test_bad_check_options_are_refused_before_any_training(checked_run, options, words):
    run_dir, _, log, _ = checked_run
    before = _trainings(log)
    with pytest.raises(InputError, match=words):
        check(run_dir, **options)
    assert _trainings(log) == before
