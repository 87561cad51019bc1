"""Nothing a user ran is lost: every check before any work, --force that keeps the old run until the new one
is under way, a lock per run folder, damaged files said in one line, honest exit codes.

Real subprocesses of `scalesearch run`, a real local Ray and real files; the analytic objective stands in for
training (instant and deterministic), as each test's name says."""
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.foundation.errors import InputError
from scalesearch.pipeline.folder_claim import claim_folder

pytestmark = pytest.mark.slow  # `scalesearch run` subprocesses on a real local Ray

ROOT = Path(__file__).resolve().parents[1]
ANALYTIC = ["--objective", "analytic", "--constraint", "formula", "--sampler", "random", "--no-reference"]


def scalesearch(*args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def snapshot(folder: Path) -> dict:
    """Every file of a run folder and its content's hash (the lock file aside: it is the folder's, not the run's)."""
    return {str(path.relative_to(folder)): hashlib.sha1(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != ".lock"}


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("reliability") / "run"
    result = scalesearch("run", "--budget", "2x", "--trials", "3", "--out", run_dir, *ANALYTIC)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def test_force_with_a_typo_keeps_the_finished_run_byte_for_byte_with_analytic_objective(run_copy):
    before = snapshot(run_copy)
    result = scalesearch("run", "--budget", "2x", "--out", run_copy, "--force", "--preset", "gpu-smal", *ANALYTIC)
    assert result.returncode == 2
    assert "unknown preset" in one_line_error(result)
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("args, message", [
    pytest.param(["--data", "/nonexistent/folder"], "nonexistent", id="data"),
    pytest.param(["--space", "no_such_space", "--objective", "analytic"], "no_such_space", id="space"),
    pytest.param(["--sampler", "grid", "--grid-step", "0.3", "--tolerance", "0.001", "--objective", "analytic"],
                 "tolerance", id="empty-grid"),
    pytest.param(["--cpus-per-trial", "64", "--objective", "analytic"], "CPUs", id="cpus"),
])
def test_bad_input_is_refused_before_the_folder_or_ray_with_nothing_left_on_disk(tmp_path, args, message):
    out = tmp_path / "new-run"
    result = scalesearch("run", "--budget", "2x", "--out", out, "--constraint", "formula", *args)
    assert result.returncode == 2
    assert message in one_line_error(result)
    assert not out.exists()  # no folder, so no Ray experiment either: Ray's folder lives in the run folder


def test_force_replaces_the_old_run_once_the_new_one_is_under_way_with_analytic_objective(run_copy):
    result = scalesearch("run", "--budget", "2x", "--trials", "2", "--out", run_copy, "--force", *ANALYTIC)
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(run_copy / "trials.csv")
    explore = table[table["stage"] == "explore"]
    assert (explore["status"] == "complete").sum() == 2  # the new run's, not the old run's 3
    assert not list(run_copy.glob(".replaced-*"))  # the replaced run is gone once the new one is under way


def test_a_force_that_fails_after_taking_the_folder_puts_the_old_run_back(run_copy):
    from scalesearch.pipeline.options import RunOptions
    from scalesearch.pipeline.run import run

    before = snapshot(run_copy)
    # A cluster address that nothing listens on fails after the folder is taken, when Ray is started.
    options = RunOptions(out=str(run_copy), force=True, objective="analytic", constraint="formula", sampler="random",
                         references=False, address="127.0.0.1:9")
    with pytest.raises(InputError):
        run(options)
    assert snapshot(run_copy) == before
    assert not list(run_copy.glob(".replaced-*"))


def test_a_second_run_on_a_folder_in_use_is_refused_naming_the_holder(run_copy):
    import os

    claim = claim_folder(run_copy, resume=True, force=False, command="scalesearch run --resume (the test)")
    try:
        before = snapshot(run_copy)
        for args in (["--resume", run_copy], ["--budget", "2x", "--out", run_copy, "--force", *ANALYTIC]):
            result = scalesearch("run", *args)
            assert result.returncode == 2
            line = one_line_error(result)
            assert "in use by another scalesearch run" in line and f"pid {os.getpid()}" in line
        assert snapshot(run_copy) == before
    finally:
        claim.release()
    assert scalesearch("run", "--resume", run_copy).returncode == 0  # released: the folder is free again


def test_a_claim_judges_the_folder_under_its_lock_and_a_refused_one_leaves_nothing(tmp_path):
    # A folder taken by another run is refused by its lock, before its contents are looked at.
    first = claim_folder(tmp_path / "run", resume=False, force=False)
    try:
        (tmp_path / "run" / "run.json").write_text("{}")  # what the holder writes once it has the folder
        with pytest.raises(InputError, match="in use by another scalesearch run"):
            claim_folder(tmp_path / "run", resume=False, force=False)  # judged first, it would say "already holds a run"
    finally:
        first.release()
    # Refused on what it holds: a resume of a folder, and its parents, that did not exist leaves none of them.
    with pytest.raises(InputError, match="holds no scalesearch run"):
        claim_folder(tmp_path / "new" / "deeper" / "run", resume=True, force=False)
    assert not (tmp_path / "new").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("a user's file")
    with pytest.raises(InputError, match="not empty and holds no scalesearch run"):
        claim_folder(tmp_path / "notes", resume=False, force=True)
    assert [path.name for path in (tmp_path / "notes").iterdir()] == ["mine.txt"]  # as it was


@pytest.mark.parametrize("name, damage, message", [
    pytest.param("study.journal", lambda data: data[:200] + b"\x00{not json\n" + data[200:], "study.journal is damaged",
                 id="journal-corrupt"),
    pytest.param("study.journal", lambda data: b"", "study.journal is missing or empty", id="journal-emptied"),
    pytest.param("run.json", lambda data: data[: len(data) // 2], "run.json is damaged", id="run-json-truncated"),
    pytest.param("sampler.pkl", lambda data: data[: len(data) // 3], "sampler.pkl is damaged", id="sampler-truncated"),
])
def test_a_damaged_file_is_named_in_one_line_and_nothing_is_started_afresh(run_copy, name, damage, message):
    path = run_copy / name
    path.write_bytes(damage(path.read_bytes()))
    before = snapshot(run_copy)
    result = scalesearch("run", "--resume", run_copy)
    assert result.returncode == 2
    line = one_line_error(result)
    assert message in line and str(run_copy) in line
    assert snapshot(run_copy) == before


def test_a_search_that_trains_no_candidate_on_budget_exits_1_naming_the_tolerance_with_analytic_objective(tmp_path):
    out = tmp_path / "run"
    # The random sampler: a grid that no point meets is refused before the run (the test below).
    result = scalesearch("run", "--budget", "2x", "--out", out, "--objective", "analytic", "--sampler", "random",
                         "--tolerance", "0.0000001", "--no-reference")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "no searched candidate completed on budget" in result.stdout + result.stderr
    assert "--tolerance 0." in result.stdout + result.stderr
    assert (out / "report.html").exists()  # what there is is still reported


def test_a_grid_no_point_of_which_measures_on_budget_is_refused_before_any_training_naming_a_tolerance_that_works(
        tmp_path):
    """Issue 22 §5: the default run's data and proxy (nothing trains, so nothing is faked). Before, this run trained
    the references and their confirm seeds (11 trainings, 10 minutes on 2 cores) and then failed."""
    import os
    import re
    import time

    from scalesearch.pipeline.options import RunOptions, validate
    from scalesearch.pipeline.prepare import prepare
    from scalesearch.study.feasibility import refuse_an_unmeetable_grid

    out, ray_dir = tmp_path / "run", tmp_path / "ray"
    ray_dir.mkdir()
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "run", "--budget", "2x", "--sampler", "grid",
                             "--tolerance", "0.0000001", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, env=dict(os.environ, RAY_TMPDIR=str(ray_dir)))
    seconds = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-2000:]
    line = one_line_error(result)
    assert line.startswith("scalesearch run: error: no grid point measures within tolerance 1e-07 of the 2x budget")
    assert not out.exists() and list(ray_dir.iterdir()) == []  # no trial row, no folder; Ray never started
    print(f"refused in {seconds:.1f} s: {line}")
    named = float(re.search(r"the smallest tolerance that works is --tolerance (\S+) ", line).group(1))
    # The tolerance it names passes the same check, on the same run's base: no refusal.
    prepared = prepare(validate(RunOptions(budget="2x", sampler="grid", tolerance=named)))
    refuse_an_unmeetable_grid(prepared.search_settings.grid, prepared.base, prepared.base_cost.flops, budget=2.0,
                              tolerance=named, num_classes=prepared.search_settings.num_classes)


def test_the_python_api_works_as_the_readme_shows_with_analytic_objective(tmp_path):
    import optuna

    import scalesearch

    optuna.logging.set_verbosity(optuna.logging.DEBUG)  # a notebook's own setting
    outcome = scalesearch.search(budget=2.0, space="efficientnet_b0", data="synthetic", sampler="random", trials=2,
                                 out=str(tmp_path / "mine"), objective="analytic", constraint="formula",
                                 references=False)
    explore = outcome.table[outcome.table["stage"] == "explore"]
    assert outcome.succeeded and (explore["status"] == "complete").sum() == 2
    assert outcome.winner_json == tmp_path / "mine" / "winner.json" and outcome.winner_json.exists()
    assert optuna.logging.get_verbosity() == optuna.logging.DEBUG  # the run's quieter Optuna did not leak out
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    model = scalesearch.build_model_from_json(outcome.winner_json, phi=3)
    assert sum(parameter.numel() for parameter in model.parameters()) > 0


def test_ctrl_c_after_a_finished_trial_still_writes_winner_json_marked_interrupted_with_slow_analytic_objective(tmp_path):
    import json
    import os
    import signal
    import time

    config = tmp_path / "slow.yaml"
    config.write_text("budget: 2x\nconstraint: formula\nsampler: random\nreferences: false\ntrials: 8\n"
                      "objective: analytic\nobjective_settings:\n  seconds_per_epoch: 1\n  epochs: 2\n")
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run", "--config", str(config), "--out", str(out),
                                "--concurrency", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True,
                               # Ctrl-C as a terminal gives it, even where the suite runs with SIGINT ignored
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline:
        table = out / "trials.csv"
        if table.exists() and "complete" in table.read_text():
            break
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    winner = json.loads((out / "winner.json").read_text())
    assert winner["status"] == "interrupted"


def test_report_self_contained_from_the_command_line_writes_one_file(finished, tmp_path):
    page = tmp_path / "alone.html"
    result = scalesearch("report", finished, "--out", page, "--self-contained")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (tmp_path / "plotly.min.js").exists() and "Plotly" in page.read_text()
