"""`scalesearch run` through a real subprocess: a real tiny search, resume, kill, interrupt, bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.runs.learning_curves import read_learning_curves
from tests.ray_cluster import descendants, end

pytestmark = pytest.mark.slow  # real `scalesearch run` subprocesses

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "cpu-tiny", "--proxy-epochs", "1", "--proxy-images", "300"]


def scalesearch(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


def default_sigint():
    """In the child: Ctrl-C as a terminal gives it. A test suite started in the background of a non-interactive shell
    ignores SIGINT, and a child would inherit that (Python keeps an ignored SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, cwd=None):
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=cwd or ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)


def completed_trials(run_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(run_dir / "trials.csv")
    return table[table["status"].isin(["complete", "duplicate"])]


def wait_for(condition, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except (FileNotFoundError, pd.errors.EmptyDataError, KeyError):
            pass
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    result = scalesearch("run", "--budget", "2x", "--trials", "3", "--seeds", "2", "--confirm", "1", "--out", run_dir, *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_a_real_tiny_search_writes_everything(finished_run):
    run_dir, result = finished_run
    for name in ("trials.csv", "trials.parquet", "study.journal", "config.yaml", "run.json", "report.html", "winner.json"):
        assert (run_dir / name).exists(), name
    table = pd.read_parquet(run_dir / "trials.parquet")
    trained = table[table["status"] == "complete"]
    searched = table[(table["stage"] == "explore") & (table["reference"].fillna("") == "")]
    assert searched["status"].isin(["complete", "failed"]).sum() == 3  # --trials counts searched candidates only
    labelled = table[table["reference"].fillna("") != ""]
    compared = set(labelled[labelled["reference"] != "paper-literal"]["architecture"])
    confirm = table[table["stage"] == "confirm"]
    # every reference the verdict compares with, on the judging seeds 1 and 2 (the explore seed 0 chose, these
    # judge); paper-literal, off budget and never compared, keeps its explore seed alone
    assert set(confirm["seed"]) == {1, 2} and compared <= set(confirm["architecture"])
    literal = set(labelled[labelled["reference"] == "paper-literal"]["architecture"])
    assert literal and not literal & set(confirm["architecture"])
    assert trained["accuracy"].notna().all() and (trained["train_seconds"] > 0).all()
    winner = json.loads((run_dir / "winner.json").read_text())
    assert [model["phi"] for model in winner["models"]] == list(range(8))
    last = result.stdout.strip().splitlines()
    assert any(line.startswith("winner: alpha=") for line in last)
    assert any(line.startswith("verdict: ") and "(n=2)" in line for line in last)
    assert winner["verdict"]["outcome"] in ("compound scaling wins", "a single dimension wins",
                                            "no difference beyond the noise")
    assert str(run_dir / "report.html") in result.stdout and str(run_dir / "winner.json") in result.stdout
    assert "Traceback" not in result.stderr


def test_resuming_a_finished_run_trains_nothing_new(finished_run):
    run_dir, _ = finished_run
    before = pd.read_csv(run_dir / "trials.csv")
    result = scalesearch("run", "--resume", run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    after = pd.read_csv(run_dir / "trials.csv")
    pd.testing.assert_frame_equal(before[["trial", "status", "accuracy"]], after[["trial", "status", "accuracy"]])


def _slow_analytic_config(tmp_path: Path, trials: int) -> Path:
    config = tmp_path / "run.yaml"
    config.write_text(
        "budget: 2x\nconstraint: formula\nsampler: random\nseeds: 1\n"
        f"trials: {trials}\nobjective: analytic\nobjective_settings:\n  seconds_per_epoch: 1\n  epochs: 2\n"
    )
    return config


def test_sigkill_then_resume_keeps_every_finished_trial_with_slow_analytic_objective(tmp_path):
    run_dir = tmp_path / "run"
    process = start("run", "--config", _slow_analytic_config(tmp_path, 6), "--out", run_dir, "--concurrency", "1")
    wait_for(lambda: len(completed_trials(run_dir)) >= 2)
    # The run's own Ray: taken before the kill, when they are still its descendants. Some (Ray's
    # workers) are in process groups of their own and outlive the killpg.
    its_ray = descendants(process.pid)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    end(its_ray, grace=0)  # as after a power loss, none of the run survives; no one else's Ray is touched
    finished = completed_trials(run_dir)[["trial", "accuracy"]]
    curves_before = read_learning_curves(run_dir)
    result = scalesearch("run", "--resume", run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(run_dir / "trials.csv").set_index("trial")
    for _, row in finished.iterrows():
        assert table.loc[row["trial"], "accuracy"] == row["accuracy"]
    searched = table[table["reference"].fillna("") == ""]
    assert (searched["status"].isin(["complete", "failed"])).sum() == 6
    assert (run_dir / "report.html").exists()
    # learning_curves.csv: the curves kept before the kill are kept as they were, and the resume's are added: one
    # per training of the table (a training cut off by the kill and trained again leaves no second curve).
    curves = read_learning_curves(run_dir)
    assert len(curves_before) >= 2 and all(curve in curves for curve in curves_before)
    trained = table[table["status"] == "complete"]
    assert sorted((c.architecture, c.seed) for c in curves) == sorted(zip(trained["architecture"], trained["seed"]))


def test_ctrl_c_stops_gracefully_with_a_readable_table_and_report_with_slow_analytic_objective(tmp_path):
    run_dir = tmp_path / "run"
    process = start("run", "--config", _slow_analytic_config(tmp_path, 8), "--out", run_dir, "--concurrency", "1")
    wait_for(lambda: len(completed_trials(run_dir)) >= 1)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert len(completed_trials(run_dir)) >= 1
    assert (run_dir / "report.html").exists()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["--budget", "2y"], "not a number", id="budget-not-a-number"),
        pytest.param(["--budget", "0x"], "above 1x", id="budget-zero"),
        pytest.param(["--budget", "-1x"], "above 1x", id="budget-negative"),
        pytest.param(["--budget", "1x"], "above 1x", id="budget-one"),
        pytest.param(["--budget", "1e9x"], "above 16x", id="budget-huge"),
        pytest.param(["--budget", "2x", "--sampler", "bayes"], "unknown sampler", id="unknown-sampler"),
        pytest.param(["--budget", "2x", "--space", "efficientnet_b9"], "unknown search space", id="unknown-space"),
        pytest.param(["--budget", "2x", "--trials", "0"], "--trials must be at least 1", id="no-trials"),
        pytest.param(["--budget", "2x", "--data", "imagenet"], "dataset", id="unknown-data"),
        pytest.param(["--budget", "2x", "--data", "synthetic:nope"], "unknown synthetic variant 'nope'",
                     id="unknown-synthetic-variant"),
        pytest.param(["--budget", "2x", "--config", "missing.yaml"], "config file not found", id="config-missing"),
        pytest.param(["--budget", "2x", "--tolerance", "0"], "tolerance", id="tolerance-zero"),
        pytest.param(["--budget", "2x", "--seeds", "auto", "--max-seeds", "0"], "--max-seeds must be at least 1",
                     id="max-seeds-zero"),
        pytest.param(["--budget", "2x", "--seeds", "auto", "--max-seeds", "1"], "--max-seeds must be at least 3",
                     id="auto-with-one-seed"),
        pytest.param(["--budget", "2x", "--seeds", "3", "--max-seeds", "2"], "--max-seeds 2 is below --seeds 3",
                     id="max-seeds-below-seeds"),
        pytest.param(["--budget", "2x", "--seeds", "many"], "whole number or auto", id="seeds-not-a-number"),
        pytest.param(["--budget", "2x", "--fidelity", "quarter"], "unknown --fidelity 'quarter'; use full or halving",
                     id="unknown-fidelity"),
        pytest.param(["--budget", "2x", "--fidelity", "halving", "--min-epochs", "0"], "--min-epochs must be at least 1",
                     id="min-epochs-zero"),
        pytest.param(["--budget", "2x", "--fidelity", "halving", "--min-epochs", "4"],
                     "--min-epochs 4 must be below the proxy's 4 epochs", id="min-epochs-not-below-the-proxy"),
        pytest.param(["--budget", "2x", "--fidelity", "halving", "--reduction", "1"], "--reduction must be at least 2",
                     id="reduction-one"),
        pytest.param(["--budget", "2x", "--fidelity", "halving", "--scheduler", "asha"],
                     "--fidelity halving and --scheduler asha both stop poor networks early", id="halving-with-asha"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    result = scalesearch("run", *args, "--out", tmp_path / "run", timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]


def test_no_feasible_grid_point_is_said_before_any_training(tmp_path):
    result = scalesearch("run", "--budget", "1.7x", "--sampler", "grid", "--constraint", "formula", "--tolerance", "0.0001",
                         "--grid-step", "0.25", "--objective", "analytic", "--out", tmp_path / "run")
    assert result.returncode == 2
    assert "no grid point is within tolerance" in result.stderr and "--tolerance" in result.stderr


def test_gpus_on_a_machine_without_gpu_is_refused(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = scalesearch("run", "--budget", "2x", "--gpus-per-trial", "1", "--out", tmp_path / "run")
    assert result.returncode == 2 and "no usable GPU" in result.stderr


def test_an_output_folder_holding_another_run_is_refused_and_kept(finished_run):
    run_dir, _ = finished_run
    before = (run_dir / "trials.csv").read_text()
    result = scalesearch("run", "--budget", "2x", "--out", run_dir)
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert (run_dir / "trials.csv").read_text() == before


def test_a_read_only_output_folder_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    result = scalesearch("run", "--budget", "2x", "--out", folder / "run")
    assert result.returncode == 2 and "cannot write" in result.stderr
