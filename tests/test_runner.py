"""Ray Tune runs the study's candidates: a real local Ray and a real external cluster.

The objective is the analytic stand-in (instant, deterministic) instead of a training."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.foundation.errors import InputError
from scalesearch.testing.analytic import analytic_objective
from scalesearch.pipeline.ray_runner import run_trials
from scalesearch.pipeline.ray_session import check_resources, start_ray, stop_ray
from scalesearch.pipeline.resources import Resources
from scalesearch.study.search_study import SearchSettings, SearchStudy
from tests.ray_cluster import RayHead, free_port
from tests.helpers import BASE_FLOPS, TINY

pytestmark = pytest.mark.slow  # a real local Ray and real clusters

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_ray():
    started = start_ray(Resources())
    yield
    stop_ray(started)


def _study(folder, **settings):
    options = dict(budget=2.0, sampler="random", trials=4, constraint="formula", seed=0, references=False)
    options.update(settings)
    return SearchStudy(Path(folder), TINY, BASE_FLOPS, SearchSettings(**options))


def test_the_ray_processes_a_run_starts_lead_process_groups_of_their_own_so_a_signal_to_its_group_spares_them(
        local_ray):
    import ray  # noqa: F401  Ray ships psutil and puts it on sys.path
    import psutil

    ours = os.getpgid(0)
    started = {child.pid: child.name() for child in psutil.Process().children()}
    assert {"gcs_server", "raylet"} <= set(started.values()), started
    assert all(os.getpgid(pid) != ours for pid in started), {name: os.getpgid(pid) for pid, name in started.items()}


def test_trials_run_on_local_ray_with_analytic_objective(local_ray, tmp_path):
    study = _study(tmp_path, trials=2, references=True, seeds=2, confirm=1)
    events = []
    run_trials(study, None, analytic_objective, {"epochs": 2}, Resources(concurrency=2), tmp_path,
               on_event=lambda kind, trial: events.append((kind, trial)))
    table = study.table()
    trained = table[table["status"] == "complete"]
    explore, confirm = trained[trained["stage"] == "explore"], trained[trained["stage"] == "confirm"]
    assert len(explore) == 2 + 4  # two searched candidates beside dWr and the three single-dimension references
    assert set(explore["reference"]) >= {"dWr", "depth-only", "width-only", "resolution-only"}
    # The confirm stage ran on Ray too, after the explore stage (the searcher waited for its results): the judging
    # seeds 1 and 2 (the explore seed 0 chose, these judge) of the best searched network and of every reference.
    assert len(confirm) == 2 * (1 + 4) and set(confirm["seed"]) == {1, 2}
    assert trained["accuracy"].between(0, 1).all() and (trained["epochs"] == 2).all()
    count = len(trained)
    assert sorted(kind for kind, _ in events) == ["finished"] * count + ["started"] * count
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


def test_asha_stops_are_recorded_as_pruned_never_as_complete_with_slow_analytic_objective(local_ray, tmp_path):
    study = _study(tmp_path, trials=4)
    # ASHA (grace period 1, reduction factor 2) stops a trial whose epoch-1 accuracy is below the median of those
    # already recorded at that rung. One slot makes the order fixed: a balanced network first (analytic accuracy
    # 0.566), then a resolution-heavy one (0.501) that ASHA must stop at epoch 1.
    study.study.enqueue_trial({"depth_share": 0.5, "width_share": 0.5})
    study.study.enqueue_trial({"depth_share": 1.0, "width_share": 0.0})
    run_trials(study, None, analytic_objective, {"epochs": 4, "seconds_per_epoch": 0.3},
               Resources(concurrency=1, scheduler="asha"), tmp_path)
    table = study.table()
    trained = table[table["status"].isin(["complete", "pruned"])]
    assert len(trained) == 4
    assert (trained[trained["status"] == "complete"]["epochs"] == 4).all()
    pruned = trained[trained["status"] == "pruned"]
    assert len(pruned) >= 1 and 1 in set(pruned["trial"])  # the worse of the two enqueued networks
    assert (pruned["epochs"] < 4).all() and pruned["reason"].str.contains("stopped early").all()
    states = {t.number: t.state.name for t in study.study.get_trials()}
    assert all(states[number] == "PRUNED" for number in pruned["trial"])


# Clusters of their own (tests/ray_cluster.py). Driven through `scalesearch run` in a process of its own, with
# Ray settings of its own: the local Ray of this process has turned token authentication on in its environment.


def _env(**extra):
    environment = {name: value for name, value in os.environ.items()
                   if name != "RAY_ADDRESS" and not name.startswith("RAY_AUTH")}
    return dict(environment, **extra)


def _run_on(address, out, *options, env=None, timeout=120):
    """`scalesearch run` with --address as a user types it; the result and how long it took."""
    clock = time.time()
    command = [sys.executable, "-m", "scalesearch.cli.main", "run", "--budget", "2x", "--objective", "analytic",
               *options, "--out", out]
    if address:
        command += ["--address", address]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env or _env(), timeout=timeout)
    return result, time.time() - clock


SMALL = ("--constraint", "formula", "--sampler", "random", "--trials", "2", "--no-reference", "--seeds", "1")


def test_a_search_runs_on_an_existing_ray_cluster(ray_head, tmp_path):
    jobs = ray_head.jobs()
    result, _ = _run_on(ray_head.address, tmp_path / "run", *SMALL, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (pd.read_csv(tmp_path / "run" / "trials.csv")["status"] == "complete").sum() == 2
    assert ray_head.jobs() == jobs + 1  # the run's driver, on that cluster


def _refused_in_one_line(result, seconds, message):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert seconds < 30, f"took {seconds:.1f} s"


def test_a_head_that_died_is_refused_in_one_line_within_30_seconds(tmp_path):
    with RayHead() as head:
        assert head.alive()
    assert not head.alive()  # stopped by its own processes, as a crash would leave it
    result, seconds = _run_on(head.address, tmp_path / "run")
    _refused_in_one_line(result, seconds, f"cannot reach the Ray cluster at {head.address}")
    # auto: the address Ray finds for itself, here from RAY_ADDRESS (else the last `ray start`'s file)
    result, seconds = _run_on("auto", tmp_path / "auto", env=_env(RAY_ADDRESS=head.address))
    _refused_in_one_line(result, seconds, "cannot reach the Ray cluster at auto (")


def test_an_address_nothing_ever_listened_on_is_refused_in_one_line_within_30_seconds(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    result, seconds = _run_on(address, tmp_path / "run")
    _refused_in_one_line(result, seconds, f"cannot reach the Ray cluster at {address}")


def test_a_port_that_answers_but_not_as_a_ray_head_is_refused_within_30_seconds(tmp_path):
    # Like a hung head: the port accepts, nothing speaks. Ray would wait 20 x 40 s.
    with socket.create_server(("0.0.0.0", 0)) as silent:  # all interfaces: Ray dials 127.0.0.1 as the node's IP
        result, seconds = _run_on(f"127.0.0.1:{silent.getsockname()[1]}", tmp_path / "run")
    _refused_in_one_line(result, seconds, "cannot connect to Ray at 127.0.0.1:")


def test_a_head_that_wants_a_token_is_refused_with_how_to_give_it(tmp_path):
    with RayHead(env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0123456789abcdef" * 4}) as head:
        result, seconds = _run_on(head.address, tmp_path / "run")
    _refused_in_one_line(result, seconds, "RAY_AUTH_MODE=token")


@pytest.mark.parametrize("named_by", ["RAY_ADDRESS", "ray_current_cluster"])
def test_a_local_run_never_joins_a_cluster_started_by_hand(ray_head, tmp_path, named_by):
    # The two ways Ray finds "the" cluster when given no address: RAY_ADDRESS, and the file that the last
    # `ray start` writes (here under a RAY_TMPDIR of the test's own, not the machine's /tmp/ray).
    ray_tmp = tempfile.mkdtemp(prefix="ray-tmp-")  # short: Ray's socket paths go under it
    env = _env(RAY_TMPDIR=ray_tmp)
    if named_by == "RAY_ADDRESS":
        env["RAY_ADDRESS"] = ray_head.address
    else:
        os.makedirs(os.path.join(ray_tmp, "ray"))
        Path(ray_tmp, "ray", "ray_current_cluster").write_text(ray_head.address)
    jobs = ray_head.jobs()
    try:
        result, _ = _run_on(None, tmp_path / "run", *SMALL, env=env, timeout=300)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ray_head.alive() and ray_head.jobs() == jobs  # no driver of ours ever connected to it


def test_a_run_leaves_the_callers_environment_loggers_and_warning_filters_as_they_were(tmp_path):
    import logging
    import os
    import warnings

    from scalesearch.pipeline.ray_session import start_ray, stop_ray
    from scalesearch.pipeline.resources import Resources

    import signal

    def own(signum, frame):  # a notebook's own SIGTERM handler
        pass

    def caught_in_the_kernel() -> bool:  # what the kernel does on SIGTERM, which signal.getsignal does not say
        mask = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("SigCgt:"))
        return bool(int(mask.split()[1], 16) >> (signal.SIGTERM - 1) & 1)

    previous = signal.signal(signal.SIGTERM, own)
    try:
        before = (dict(os.environ), logging.getLogger("ray").level, list(warnings.filters))
        session = start_ray(Resources())
        assert os.environ.get("TUNE_DISABLE_SIGINT_HANDLER") == "1"  # changed while the run is on
        assert signal.getsignal(signal.SIGTERM) is own  # not Ray's, which exits at once (and dumps, then aborts)
        stop_ray(session)
        after = (dict(os.environ), logging.getLogger("ray").level, list(warnings.filters))
        # ray.shutdown() resets SIGTERM to its default in the kernel: put back there too
        assert signal.getsignal(signal.SIGTERM) is own and caught_in_the_kernel()
    finally:
        signal.signal(signal.SIGTERM, previous)
    changed = {key for key in set(before[0]) | set(after[0]) if before[0].get(key) != after[0].get(key)}
    assert not {key for key in changed if key.startswith(("TUNE_", "RAY_AIR", "RAY_DEDUP", "RAY_LOG"))}
    assert after[1:] == before[1:]
