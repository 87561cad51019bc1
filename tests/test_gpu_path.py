"""The GPU path, proven on the CPU as far as a CPU can prove it (issue 15).

1. train_proxy's CUDA recipe (bf16 autocast, channels-last, uint8 images on the device, resized in float) runs
   on the CPU under the test aid SCALESEARCH_CUDA_ON_CPU=1 (training/recipe.py), and learns.
2. Fractional GPUs in a real local Ray that declares one GPU: a quarter of a GPU per trial runs 4 trials at
   once, a half 2, a whole 1; Ray gives each trial CUDA_VISIBLE_DEVICES, and the trial trains on the CPU
   under the same test aid.
3. `--preset auto` on a machine with a GPU (the detection mocked) picks gpu-small and a quarter GPU a trial.

What only a GPU can show (cudnn.benchmark, peak memory, speed) is bench/gpu_check.sh's.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import time
from pathlib import Path

import pytest
import torch

from scalesearch.data.datasets import load_dataset
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.training import batches, recipe
from scalesearch.training.presets import PRESETS
from scalesearch.training.proxy import ProxyConfig, resolve_device, train_proxy
from tests.helpers import make_study

TINY = PRESETS["cpu-tiny"]


@pytest.fixture
def cuda_on_cpu(monkeypatch):
    monkeypatch.setenv(recipe.CUDA_ON_CPU, "1")


@pytest.fixture(scope="module")
def base():
    return proxy_base(load_space("efficientnet_b0"), TINY.base_width, TINY.base_depth, TINY.base_resolution)


class Observed:
    """What a training really did, seen from inside: the dtype the convolutions computed in, the memory format
    of their weights and inputs, the dtype of the images kept on the device, the dtype the resize worked in."""

    def __init__(self, monkeypatch):
        self.conv_outputs, self.conv_weights, self.conv_inputs, self.storage, self.resized = set(), set(), set(), set(), set()

        def hook(module, inputs, output):
            if isinstance(module, torch.nn.Conv2d):
                self.conv_outputs.add(output.dtype)
                self.conv_weights.add(_memory_format(module.weight))
                self.conv_inputs.add(_memory_format(inputs[0]))

        def to_storage(images, device):
            stored = original_storage(images, device)
            self.storage.add((stored.dtype, stored.device.type))
            return stored

        def resize(images, resolution, in_float=None):
            resized = original_resize(images, resolution, in_float)
            self.resized.add(resized.dtype)
            return resized

        original_storage, original_resize = batches.to_storage, batches.resize
        monkeypatch.setattr(batches, "to_storage", to_storage)  # observed, not replaced: the real one runs
        monkeypatch.setattr(batches, "resize", resize)
        self.handle = torch.nn.modules.module.register_module_forward_hook(hook)

    def close(self):
        self.handle.remove()


def _memory_format(tensor) -> str:
    channels_last, contiguous = tensor.is_contiguous(memory_format=torch.channels_last), tensor.is_contiguous()
    if channels_last and contiguous:
        return "either"  # e.g. a 1×1 convolution's weight, or the squeeze-excitation's N×C×1×1 input
    return "channels_last" if channels_last else "contiguous" if contiguous else "other"


def _observe(monkeypatch, *args, **kwargs):
    observed = Observed(monkeypatch)
    try:
        return train_proxy(*args, **kwargs), observed
    finally:
        observed.close()


def test_a_cuda_request_trains_on_the_cpu_only_under_the_test_aid(monkeypatch):
    monkeypatch.delenv(recipe.CUDA_ON_CPU, raising=False)
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the test aid does nothing here")
    with pytest.raises(Exception, match="sees no CUDA GPU"):
        resolve_device("cuda")  # without the switch, a user asking for a GPU that is not there is refused
    assert recipe.recipe_for(torch.device("cpu")) is recipe.CPU
    monkeypatch.setenv(recipe.CUDA_ON_CPU, "1")
    assert resolve_device("cuda") == torch.device("cpu")
    assert recipe.recipe_for(torch.device("cpu")) is recipe.CUDA
    assert resolve_device("auto") == torch.device("cpu")  # auto never pretends a GPU


@pytest.mark.slow  # ~5 s: two short trainings
def test_the_cuda_recipe_learns_on_the_cpu(base, one_thread, cuda_on_cpu, monkeypatch):
    dataset = load_dataset("synthetic", proxy_images=640, val_images=200, source_resolution=TINY.source_resolution)
    config = ProxyConfig(epochs=3, batch_size=64, learning_rate=TINY.learning_rate, device="cuda")
    result, observed = _observe(monkeypatch, scale(base), dataset, config)

    # The recipe really was CUDA's: bf16 convolutions on channels-last weights and inputs, uint8 images on the
    # device, resized in float. Each would read float32 / contiguous / uint8 had the switch done nothing.
    assert observed.conv_outputs == {torch.bfloat16}
    assert observed.conv_weights == observed.conv_inputs == {"channels_last", "either"}
    # On a GPU machine (bench/gpu_check.sh runs this file there) the switch does nothing and this is CUDA itself.
    where = "cuda" if torch.cuda.is_available() else "cpu"
    assert observed.storage == {(torch.uint8, where)}
    assert observed.resized == {torch.float32}
    assert result.recipe == "cuda" and result.device == where
    # CUDA's allocator statistics do not exist on the CPU
    assert (result.peak_memory_bytes is None) == (where == "cpu")

    # And it learns: chance is 0.1; measured 0.285 (seed 0) on a 2-core AMD EPYC with AVX512-bf16.
    assert result.accuracy >= 0.2
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < losses[0] - 0.2 and all(map(torch.isfinite, torch.tensor(losses)))


def test_without_the_switch_the_cpu_recipe_runs(base, one_thread, monkeypatch):
    # The control for the test above: the same observation sees the CPU recipe when the switch is off.
    monkeypatch.delenv(recipe.CUDA_ON_CPU, raising=False)
    dataset = load_dataset("synthetic", proxy_images=64, val_images=32, source_resolution=TINY.source_resolution)
    config = ProxyConfig(epochs=1, batch_size=32, learning_rate=0.05, max_steps=1, device="cpu")
    result, observed = _observe(monkeypatch, scale(base), dataset, config)
    assert observed.conv_outputs == {torch.float32}
    assert observed.conv_weights == observed.conv_inputs == {"contiguous", "either"}
    assert observed.storage == {(torch.uint8, "cpu")} and observed.resized == {torch.uint8}
    assert result.recipe == "cpu"


# 2. Fractional GPUs in a real local Ray -----------------------------------------------------------------------

def recording_objective(spec, dataset, settings, on_epoch):
    """A stand-in for training that records, in the trial, when it ran, in which process, what Ray gave it and
    where a CUDA request would train. It holds until ``together`` trials run at once, or every one of the ``trials``
    has started (the last wave may be smaller), or ``hold_seconds`` pass, so the overlap shows whatever the workers'
    start-up times; then ``linger`` seconds more, so a trial Ray let run beside them would overlap too."""
    import ray

    from scalesearch.training.objectives import proxy_objective

    log = Path(settings["log"])
    seen = {"pid": os.getpid(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu": ray.get_runtime_context().get_assigned_resources().get("GPU"),
            "switch": os.environ.get(recipe.CUDA_ON_CPU), "cuda_trains_on": str(resolve_device("cuda"))}
    _record(log, dict(seen, event="start"))
    if settings.get("train"):  # the real proxy training, asked for on cuda, as a run on a GPU machine asks
        result = proxy_objective(spec, dataset, settings["train"], on_epoch)
    else:
        deadline = time.time() + settings["hold_seconds"]
        while time.time() < deadline:
            events = _logged(log)
            running, started = events.count("start") - events.count("end"), events.count("start")
            if running >= settings["together"] or started >= settings.get("trials", math.inf):
                break
            time.sleep(0.02)
        time.sleep(settings["linger"])
        on_epoch({"epoch": 1, "accuracy": 0.5, "loss": 0.5, "train_loss": 1.0})
        result = {"accuracy": 0.5, "loss": 0.5, "train_loss": 1.0, "epochs": 1, "train_seconds": 0.0, "device": "none"}
    _record(log, dict(seen, event="end", recipe=result.get("recipe"), device=result["device"]))
    return result


def _record(log: Path, entry: dict) -> None:
    with log.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(dict(entry, time=time.time())) + "\n")


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _logged(log: Path) -> list[str]:
    with log.open() as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        return [json.loads(line)["event"] for line in handle]


def most_at_once(events: list[dict]) -> tuple[int, set]:
    """The most trials running at the same moment, from their recorded start and end times, and their pids."""
    running, most, pids = {}, 0, set()
    for event in sorted(events, key=lambda event: (event["time"], event["event"] == "start")):  # ends first on a tie
        if event["event"] == "start":
            running[event["pid"]] = event
        else:
            running.pop(event["pid"])
        if len(running) > most:
            most, pids = len(running), set(running)
    return most, pids


@pytest.fixture(scope="module")
def ray_with_one_gpu():
    """A real local Ray that declares one GPU on this CPU machine, its trials under the test aid (set before Ray
    starts, so its workers inherit it)."""
    from scalesearch.pipeline.ray_session import start_ray, stop_ray
    from scalesearch.pipeline.resources import Resources

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: bench/gpu_check.sh measures sharing on it")
    previous = os.environ.get(recipe.CUDA_ON_CPU)
    os.environ[recipe.CUDA_ON_CPU] = "1"
    session = start_ray(Resources(), declare_gpus=1)
    try:
        yield
    finally:
        stop_ray(session)
        if previous is None:
            os.environ.pop(recipe.CUDA_ON_CPU)
        else:
            os.environ[recipe.CUDA_ON_CPU] = previous


@pytest.mark.slow  # a real local Ray
@pytest.mark.parametrize("gpus_per_trial, together", [
    pytest.param(0.25, 4, id="quarter-4-at-once"),
    pytest.param(0.5, 2, id="half-2-at-once"),
    pytest.param(1.0, 1, id="whole-1-at-once"),
])
def test_a_gpu_fraction_runs_that_many_trials_at_once_with_recording_objective(
        ray_with_one_gpu, tmp_path, gpus_per_trial, together):
    from scalesearch.pipeline.ray_runner import run_trials
    from scalesearch.pipeline.ray_session import check_resources
    from scalesearch.pipeline.resources import Resources

    # CPUs are no limit (a quarter CPU a trial, 2 CPUs: 8 at once): only the one declared GPU limits the trials.
    resources = Resources(cpus_per_trial=0.25, gpus_per_trial=gpus_per_trial)
    check_resources(resources)
    # One trial more than fit at once: were Ray to run it beside the others, the overlap would show it.
    trials = together + 1
    study = make_study(tmp_path, sampler="random", trials=trials, references=False)
    log = tmp_path / "trials.jsonl"
    run_trials(study, None, recording_objective,
               {"epochs": 1, "log": str(log), "together": together, "trials": trials, "hold_seconds": 60,
                "linger": 1.5}, resources, tmp_path)

    events = _events(log)
    starts = [event for event in events if event["event"] == "start"]
    table = study.table()
    assert len(starts) == trials and (table["status"] == "complete").sum() == trials
    most, pids = most_at_once(events)
    assert most == together and len(pids) == together  # that many processes at once, never more
    for start in starts:
        assert start["gpu"] == pytest.approx(gpus_per_trial)  # what Ray assigned the trial
        assert start["cuda_visible_devices"] == "0"  # Ray names the one GPU to every trial holding a share of it
        assert start["switch"] == "1" and start["cuda_trains_on"] == "cpu"  # the test aid reached the worker


@pytest.mark.slow  # a real local Ray and two short trainings
def test_a_trial_with_half_a_gpu_trains_with_the_cuda_recipe_on_the_cpu(ray_with_one_gpu, tmp_path):
    from scalesearch.pipeline.ray_runner import run_trials
    from scalesearch.pipeline.resources import Resources

    dataset = load_dataset("synthetic", proxy_images=64, val_images=32, source_resolution=48)
    # device "cuda": what pipeline/run.py passes when a trial holds a GPU share
    train = {"epochs": 1, "batch_size": 32, "learning_rate": 0.05, "max_steps": 2, "device": "cuda"}
    study = make_study(tmp_path, sampler="random", trials=2, references=False)
    log = tmp_path / "trials.jsonl"
    run_trials(study, dataset, recording_objective, {"epochs": 1, "log": str(log), "train": train},
               Resources(cpus_per_trial=0.5, gpus_per_trial=0.5), tmp_path)

    ends = [event for event in _events(log) if event["event"] == "end"]
    assert len(ends) == 2
    for end in ends:
        assert end["cuda_visible_devices"] == "0" and end["gpu"] == pytest.approx(0.5)
        assert end["recipe"] == "cuda" and end["device"] == "cpu"
    table = study.table()
    completed = table[table["status"] == "complete"]
    assert len(completed) == 2 and (completed["device"] == "cpu").all() and completed["accuracy"].between(0, 1).all()


# 3. --preset auto on a machine with a GPU -------------------------------------------------------------------

@pytest.mark.parametrize("cuda, address, gpus, device, preset", [
    pytest.param(True, None, 0.25, "cuda", "gpu-small", id="gpu-machine"),
    pytest.param(False, None, 0.0, "cpu", "cpu-tiny", id="cpu-machine"),
    # A cluster's GPUs are not this machine's: no default share, and --gpus-per-trial says it.
    pytest.param(True, "127.0.0.1:6379", 0.0, "cpu", "cpu-tiny", id="gpu-machine-driving-a-cluster"),
])
def test_preset_auto_follows_the_gpu_with_detection_mocked(monkeypatch, cuda, address, gpus, device, preset):
    from scalesearch.pipeline.options import RunOptions
    from scalesearch.pipeline.resources import Resources, gpus_per_trial, trial_device
    from scalesearch.training.presets import resolve_preset

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    options = RunOptions(preset="auto", address=address)
    share = gpus_per_trial(options)
    chosen_device = trial_device(Resources(1.0, share))
    assert share == gpus and chosen_device == device
    assert resolve_preset(options.preset, chosen_device).name == preset


def test_an_explicit_gpu_share_wins_over_the_detection(monkeypatch):
    from scalesearch.pipeline.options import RunOptions
    from scalesearch.pipeline.resources import gpus_per_trial

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert gpus_per_trial(RunOptions(gpus_per_trial=1.0)) == 1.0
    assert gpus_per_trial(RunOptions(gpus_per_trial=0.0)) == 0.0


@pytest.mark.slow  # a `scalesearch run` subprocess with its own Ray
def test_the_cli_shares_the_declared_gpu_four_ways_at_a_quarter_gpu_a_trial_with_slow_analytic_objective(tmp_path):
    """The whole command, as a user on a GPU machine types it: --gpus-per-trial 0.25 runs 4 trials at once."""
    import subprocess
    import sys

    log = tmp_path / "trainings.jsonl"
    config = tmp_path / "run.yaml"
    config.write_text(f"objective: analytic\nobjective_settings:\n  seconds_per_epoch: 5\n  training_log: {log}\n")
    run_dir = tmp_path / "run"
    environment = dict(os.environ, **{recipe.CUDA_ON_CPU: "1"})
    result = subprocess.run(
        [sys.executable, "-m", "scalesearch.cli.main", "run", "--budget", "2x", "--config", str(config), "--trials", "8",
         "--no-reference", "--seeds", "1", "--proxy-epochs", "2", "--gpus-per-trial", "0.25", "--cpus-per-trial", "0.25",
         "--out", str(run_dir)], capture_output=True, text=True, timeout=600, env=environment,
        cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    most, _ = most_at_once(_events(log))
    assert most == 4  # a quarter of the one declared GPU each: four at once, never more
    record = json.loads((run_dir / "run.json").read_text())
    assert record["device"] == "cuda" and record["preset"]["name"] == "gpu-small"  # what a GPU machine resolves to
