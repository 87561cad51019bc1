"""The only module that imports Ray: runs the study's candidates as Ray Tune trials."""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from scalesearch.errors import InputError

log = logging.getLogger("scalesearch.runner")


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    concurrency: int | None = None  # None: as many as the resources allow
    address: str | None = None  # None: a local Ray started and stopped here
    scheduler: str = "none"  # none | asha


def _quiet_ray(verbose: bool) -> None:
    # Set before Ray reads them: the legacy reporter honours verbose=0 (the new one still
    # prints its config table), and no per-trial CSV/JSON/TensorBoard loggers.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ctrl-C must reach scalesearch (which saves the table and writes the report), not Tune's handler.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "1e9")
    if not verbose:
        os.environ.setdefault("RAY_LOG_TO_STDERR", "0")
        for name in ("ray", "ray.tune", "ray.train", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="ray.*")


def start_ray(resources: Resources, verbose: bool = False):
    _quiet_ray(verbose)
    import ray

    if ray.is_initialized():
        return False
    try:
        if resources.address:
            ray.init(address=resources.address, logging_level=logging.ERROR, log_to_driver=verbose)
        else:
            ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=verbose,
                     configure_logging=True)
    except ConnectionError as error:
        raise InputError(f"cannot reach the Ray cluster at {resources.address}: {error}") from None
    except Exception as error:
        if resources.address:
            raise InputError(f"cannot connect to Ray at {resources.address}: {type(error).__name__}: {error}") from None
        raise
    return True


def cluster_resources() -> dict:
    import ray

    return ray.cluster_resources()


def check_resources(resources: Resources) -> None:
    """Refuse, before any trial, requests the cluster can never satisfy (Ray would wait forever)."""
    available = cluster_resources()
    gpus, cpus = available.get("GPU", 0.0), available.get("CPU", 0.0)
    if resources.gpus_per_trial > 0 and gpus == 0:
        raise InputError(f"--gpus-per-trial {resources.gpus_per_trial:g} asked for, but Ray sees no GPU on this machine or cluster")
    if resources.gpus_per_trial > gpus:
        raise InputError(f"--gpus-per-trial {resources.gpus_per_trial:g} is more than the {gpus:g} GPUs Ray sees")
    if resources.cpus_per_trial > cpus:
        raise InputError(f"--cpus-per-trial {resources.cpus_per_trial:g} is more than the {cpus:g} CPUs Ray sees")


def _trainable(config, dataset=None, objective=None, settings=None, cpus=1.0):
    """One Ray trial: rebuild the candidate from plain data, run the objective, report."""
    import math

    import torch
    from ray import tune

    from scalesearch.scaling import ModelSpec

    torch.set_num_threads(max(1, int(math.floor(cpus))))
    spec = ModelSpec.from_dict(config["spec"])
    trial_settings = dict(settings or {}, seed=config["seed"])
    try:
        result = objective(spec, dataset, trial_settings, lambda metrics: tune.report(dict(metrics)))
    except Exception as error:  # any failure of one candidate becomes a failed trial, not a crash
        message = f"{type(error).__name__}: {error}".strip()
        # Tune insists on the metric in every report; the study reads "failed" first.
        reason = message.splitlines()[0][:300] if message else type(error).__name__
        tune.report({"failed": reason, "accuracy": 0.0, "epoch": 0})
        return
    tune.report(dict(result, final=True))


def run_trials(study, dataset, objective, settings: dict, resources: Resources, run_dir: Path, on_event=None) -> None:
    """Runs until the study proposes nothing more. Every finished trial is told to the study at once."""
    from ray import tune
    from ray.tune.search import Searcher

    class StudySearcher(Searcher):
        """Adapts the Ray-free study to Tune: proposals out, results in."""

        def __init__(self):
            super().__init__(metric="accuracy", mode="max")
            self.live: dict[str, int] = {}

        def set_search_properties(self, metric, mode, config, **spec):
            return True

        def suggest(self, trial_id):
            proposal = study.propose()
            if proposal is None:
                return Searcher.FINISHED
            self.live[trial_id] = proposal.trial
            if on_event:
                on_event("started", proposal.trial)
            return {"spec": proposal.spec, "seed": proposal.seed, "trial": proposal.trial}

        def on_trial_complete(self, trial_id, result=None, error=False):
            number = self.live.pop(trial_id, None)
            if number is None:
                return
            if error or not result:
                study.fail(number, "the Ray trial crashed (see the Ray log in the run folder)")
            elif "failed" in result:
                study.fail(number, result["failed"])
            else:
                # ASHA may stop a trial at its last epoch's report, before the final one: that is complete.
                pruned = not result.get("final") and result.get("epoch", 0) < int(settings.get("epochs", 4))
                study.complete(number, _result_of(result), pruned=pruned)
            if on_event:
                on_event("finished", number)

    scheduler = None
    if resources.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # max_t beyond the last epoch: the final report (with latency etc.) must never be cut off.
        scheduler = ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                                  max_t=int(settings.get("epochs", 4)) + 1, grace_period=1, reduction_factor=2)
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, dataset=dataset, objective=objective, settings=settings,
                             cpus=resources.cpus_per_trial),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial},
    )
    remaining = max(1, study.settings.trials - study.trainings_started())
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=StudySearcher(), scheduler=scheduler, num_samples=remaining,
            max_concurrent_trials=resources.concurrency, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name="ray", storage_path=str(Path(run_dir).resolve()), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    tuner.fit()


def _result_of(result: dict) -> dict:
    keys = ("accuracy", "loss", "train_loss", "train_seconds", "images_per_second", "latency_ms",
            "latency_ms_batch", "peak_memory_bytes", "device")
    final = {key: result[key] for key in keys if key in result}
    final["epochs"] = result.get("epochs", result.get("epoch"))
    return final


def stop_ray(started: bool) -> None:
    if started:
        import ray

        ray.shutdown()
