"""Ray Tune runs the study's candidates: a real local Ray and a real external cluster.

The objective is the analytic stand-in (instant, deterministic) instead of a training."""
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scalesearch.errors import InputError
from scalesearch.objectives import analytic_objective
from scalesearch.runner import Resources, check_resources, run_trials, start_ray, stop_ray
from scalesearch.study import SearchSettings, SearchStudy
from tests.test_study import BASE_FLOPS, TINY


@pytest.fixture(scope="module")
def local_ray():
    started = start_ray(Resources())
    yield
    stop_ray(started)


def _study(folder, **settings):
    options = dict(budget=2.0, sampler="random", trials=4, constraint="formula", seed=0, references=False)
    options.update(settings)
    return SearchStudy(Path(folder), TINY, BASE_FLOPS, SearchSettings(**options))


def test_trials_run_on_local_ray_with_analytic_objective(local_ray, tmp_path):
    study = _study(tmp_path, trials=4, references=True)
    events = []
    run_trials(study, None, analytic_objective, {"epochs": 2}, Resources(concurrency=2), tmp_path,
               on_event=lambda kind, trial: events.append((kind, trial)))
    table = study.table()
    trained = table[table["status"] == "complete"]
    assert len(trained) == 4
    assert set(trained["reference"]) >= {"depth-only", "width-only", "resolution-only"}
    assert trained["accuracy"].between(0, 1).all() and (trained["epochs"] == 2).all()
    assert sorted(kind for kind, _ in events) == ["finished"] * 4 + ["started"] * 4
    assert (tmp_path / "ray").is_dir()  # Ray's experiment folder lives in the run folder


def test_a_failing_trial_does_not_stop_the_search_with_analytic_objective(local_ray, tmp_path):
    study = _study(tmp_path, trials=5)
    run_trials(study, None, analytic_objective, {"epochs": 1, "fail_if_resolution_above": 34},
               Resources(concurrency=2), tmp_path)
    table = study.table()
    failed = table[table["status"] == "failed"]
    assert len(failed) >= 1 and failed["reason"].str.contains("nan").all()
    assert (table[table["status"] == "complete"]["resolution"] <= 34).all()
    assert len(table[table["status"].isin(["complete", "failed"])]) == 5


def test_asking_for_a_gpu_on_a_cpu_machine_is_refused_before_any_trial(local_ray):
    import ray

    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("this machine has a GPU")
    with pytest.raises(InputError, match="no GPU"):
        check_resources(Resources(gpus_per_trial=0.5))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_search_runs_on_an_existing_ray_cluster(tmp_path):
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    port = _free_port()
    subprocess.run([ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats"], check=True, capture_output=True, timeout=120)
    try:
        resources = Resources(address=f"127.0.0.1:{port}", concurrency=2)
        started = start_ray(resources)
        try:
            assert ray.get_runtime_context().gcs_address.endswith(str(port))
            study = _study(tmp_path, trials=2)
            run_trials(study, None, analytic_objective, {"epochs": 1}, resources, tmp_path)
        finally:
            stop_ray(started)
        assert (study.table()["status"] == "complete").sum() == 2
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)


def test_asha_stops_are_recorded_as_pruned_never_as_complete_with_slow_analytic_objective(local_ray, tmp_path):
    study = _study(tmp_path, trials=6)
    run_trials(study, None, analytic_objective, {"epochs": 4, "seconds_per_epoch": 0.3},
               Resources(concurrency=2, scheduler="asha"), tmp_path)
    table = study.table()
    trained = table[table["status"].isin(["complete", "pruned"])]
    assert len(trained) == 6
    assert (trained[trained["status"] == "complete"]["epochs"] == 4).all()
    pruned = trained[trained["status"] == "pruned"]
    assert (pruned["epochs"] < 4).all() and pruned["reason"].str.contains("stopped early").all()
    states = {t.number: t.state.name for t in study.study.get_trials()}
    assert all(states[number] == "PRUNED" for number in pruned["trial"])
