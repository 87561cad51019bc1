"""The only module that imports Ray: runs the study's candidates as Ray Tune trials."""
from __future__ import annotations

import logging
import os
import socket
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scalesearch.foundation.errors import InputError

log = logging.getLogger("scalesearch.pipeline.ray_runner")


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    concurrency: int | None = None  # None: as many as the resources allow
    address: str | None = None  # None: a local Ray started and stopped here
    scheduler: str = "none"  # none | asha


@dataclass
class RaySession:
    """What start_ray changed, for stop_ray to undo: a notebook that calls scalesearch.search() keeps its own
    environment, logger levels and warning filters afterwards."""

    started: bool  # whether this run started (and so must shut down) Ray
    environment: dict  # variable → its value before the run (None: it was unset)
    levels: dict  # logger name → its level before the run
    filters: list  # warnings.filters before the run

    def __bool__(self) -> bool:
        return self.started


def _quiet_ray(verbose: bool) -> RaySession:
    # Set before Ray reads them: the legacy reporter honours verbose=0 (the new one still
    # prints its config table), and no per-trial CSV/JSON/TensorBoard loggers.
    environment = {"RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "RAY_DEDUP_LOGS": "0",
                   # Ctrl-C must reach scalesearch (which saves the table and writes the report), not Tune's handler.
                   "TUNE_DISABLE_SIGINT_HANDLER": "1", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
                   "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1e9"}
    levels = {}
    if not verbose:
        environment["RAY_LOG_TO_STDERR"] = "0"
        levels = {name: logging.ERROR for name in ("ray", "ray.tune", "ray.train", "ray.data")}
        # Tune's copy of its experiment state (RUN_DIR/ray) is not what a resume reads (study.journal is). When it
        # cannot be saved (a full disk), Tune logs a traceback and goes on; the run's own next write says it in one line.
        levels["ray.tune.execution.experiment_state"] = logging.CRITICAL
    session = RaySession(False, {name: os.environ.get(name) for name in environment},
                         {name: logging.getLogger(name).level for name in levels}, list(warnings.filters))
    for name, value in environment.items():
        os.environ.setdefault(name, value)
    # Not a default: with Tune's handler, a Ctrl-C ends Tune's loop quietly and the run would report itself complete.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore", module="ray.*")
    return session


def _restore(session: RaySession) -> None:
    for name, value in session.environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for name, level in session.levels.items():
        logging.getLogger(name).setLevel(level)
    warnings.filters[:] = session.filters


# Bounds on Ray's own wait for an --address that answers TCP but not as a working Ray head (a hung GCS,
# another service on the port, a head that refuses us): one connection attempt instead of 20, and 5 s
# instead of 30 for the head's first answer. Ray's C++ side reads these once, when Ray is first imported,
# which in `scalesearch run` is inside `_connection_limits`. Set only while connecting, so no later
# process inherits them.
CONNECT_LIMITS = {"RAY_gcs_server_port_wait_time_s": "1", "RAY_py_gcs_connect_timeout_s": "5"}
PROBE_SECONDS = 3  # a head that does not accept a TCP connection in this time is taken as unreachable


def start_ray(resources: Resources, verbose: bool = False, declare_gpus: int | None = None) -> RaySession:
    """Ray for this run; pass what it returns to stop_ray, which undoes the run's changes to this process.

    ``declare_gpus`` (tests only): a local Ray declares this many GPUs whatever the machine has, so that
    fractional GPU scheduling can be tested on a CPU machine (tests/test_gpu_path.py)."""
    session = _quiet_ray(verbose)
    try:
        session.started = _start(resources, verbose, declare_gpus)
    except BaseException:
        _restore(session)
        raise
    return session


def _start(resources: Resources, verbose: bool, declare_gpus: int | None = None) -> bool:
    if resources.address:
        return _connect_ray(resources.address, verbose)
    import ray

    if ray.is_initialized():
        return False
    # "local", not None: with no address ray.init() joins the cluster named by RAY_ADDRESS or by the last
    # `ray start` on this machine, and our trials would run on someone else's Ray.
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, log_to_driver=verbose,
             configure_logging=True, num_gpus=declare_gpus)
    return True


def _connect_ray(address: str, verbose: bool) -> bool:
    with _connection_limits():
        import ray

        if ray.is_initialized():
            return False
        try:
            _probe(address)
            with _stderr_hidden(not verbose):
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=verbose)
        except InputError:
            raise
        except Exception as error:
            raise InputError(f"cannot connect to Ray at {address}: {_why(error)}") from None
    return True


@contextmanager
def _connection_limits():
    saved = {name: os.environ.get(name) for name in CONNECT_LIMITS}
    os.environ.update(CONNECT_LIMITS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _stderr_hidden(hidden: bool):
    """Ray's C++ side writes its connection warnings straight to file descriptor 2, whatever the log level;
    a refusal is to be our one line."""
    if not hidden:
        yield
        return
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _probe(address: str) -> None:
    """A dead or unreachable head fails here in seconds; Ray itself retries it for minutes."""
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        # What ray.init(address="auto") will try: RAY_ADDRESS, else the last `ray start` on this machine
        # (ConnectionError when there is none).
        target = canonicalize_bootstrap_address("auto")
    else:
        target = address
    try:
        parts = urlsplit(target if "://" in target else "//" + target)
        host, port = parts.hostname, parts.port or (10001 if parts.scheme == "ray" else None)
    except ValueError:
        host, port = None, None
    if not host or not port:
        return  # not host:port; ray.init says what is wrong with it
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as error:
        shown = "" if target == address else f" ({target})"
        raise InputError(f"cannot reach the Ray cluster at {address}{shown}: "
                         f"nothing answers there ({error.strerror or type(error).__name__})") from None


def _why(error: BaseException) -> str:
    """Ray's one-line reason, with the token hint Ray hides in the cause's traceback text."""
    chain, cause = [], error
    while cause is not None and len(chain) < 5:
        chain.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    if any("InvalidAuthToken" in text or "AuthenticationError" in text for text in chain):
        return ("the cluster requires a token it did not get; set RAY_AUTH_MODE=token "
                "(token in ~/.ray/auth_token or RAY_AUTH_TOKEN)")
    return chain[0].splitlines()[0]


def cluster_resources() -> dict:
    import ray

    return ray.cluster_resources()


def slots(resources: Resources) -> int:
    """How many trials can train at once on the cluster Ray sees."""
    import math

    available = cluster_resources()
    fits = [math.floor(available.get("CPU", 1.0) / resources.cpus_per_trial)] if resources.cpus_per_trial > 0 else []
    if resources.gpus_per_trial > 0:
        fits.append(math.floor(available.get("GPU", 0.0) / resources.gpus_per_trial + 1e-9))
    if resources.concurrency:
        fits.append(resources.concurrency)
    return max(1, min(fits, default=1))


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


def threads_for(cpus: float) -> int:
    """The torch threads of a trial given ``cpus`` CPUs (Ray's fractional CPUs included: at least one)."""
    import math

    return max(1, int(math.floor(cpus)))


def _trainable(config, dataset=None, objective=None, settings=None, cpus=1.0):
    """One Ray trial: rebuild the candidate from plain data, run the objective, report."""
    import torch
    from ray import tune

    from scalesearch.model.scaling import ModelSpec

    torch.set_num_threads(threads_for(cpus))
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


def run_trials(study, dataset, objective, settings: dict, resources: Resources, run_dir: Path, on_event=None,
               name: str = "ray") -> None:
    """Runs until the study proposes nothing more. Every finished trial is told to the study at once.
    ``name``: the folder of Tune's own files in ``run_dir`` (one per stage)."""
    from ray import tune
    from ray.tune.search import Searcher

    from scalesearch.pipeline.trial_crash import GENERIC as GENERIC_CRASH, crash_reason

    class StudySearcher(Searcher):
        """Adapts the Ray-free study to Tune: proposals out, results in."""

        def __init__(self):
            super().__init__(metric="accuracy", mode="max")
            self.live: dict[str, int] = {}
            self.crashed: dict[str, int] = {}  # Tune trial → study trial, until the callback below gives the reason
            self.failure: Exception | None = None  # the study could not record a result (a full disk): stop

        def set_search_properties(self, metric, mode, config, **spec):
            return True

        def suggest(self, trial_id):
            from scalesearch.study.search_study import Waiting

            self.record_crashes()  # any the callback did not reach: the generic reason, before anything else
            if self.failure is not None:
                return Searcher.FINISHED
            proposal = study.propose()
            if proposal is None:
                return Searcher.FINISHED
            if isinstance(proposal, Waiting):
                return None  # Tune asks again once a trial in flight has finished
            self.live[trial_id] = proposal.trial
            if on_event:
                on_event("started", proposal.trial)
            return {"spec": proposal.spec, "seed": proposal.seed, "trial": proposal.trial}

        def on_trial_complete(self, trial_id, result=None, error=False):
            number = self.live.pop(trial_id, None)
            if number is None:
                return
            if error or not result:
                # Tune calls the callbacks' on_trial_error (which can read the error file) right after this.
                self.crashed[trial_id] = number
                return
            try:
                if "failed" in result:
                    study.fail(number, result["failed"])
                else:
                    # ASHA may stop a trial at its last epoch's report, before the final one: that is complete.
                    pruned = not result.get("final") and result.get("epoch", 0) < int(settings.get("epochs", 4))
                    study.complete(number, _result_of(result), pruned=pruned)
            except Exception as failure:
                # Raised here, Tune would log its traceback, count the trial failed and search on without its
                # record. The search stops instead; run_trials raises it once the trials in flight are done.
                self.failure = self.failure or failure
                return
            if on_event:
                on_event("finished", number)

        def record_crashes(self, reasons: dict[str, str] | None = None) -> None:
            """Tells the study of the crashed trials: with the reason given for a Tune trial, else the generic one."""
            for trial_id in list(self.crashed if reasons is None else reasons):
                number = self.crashed.pop(trial_id, None)
                if number is None:
                    continue
                try:
                    study.fail(number, (reasons or {}).get(trial_id) or GENERIC_CRASH)
                except Exception as failure:  # as in on_trial_complete: stop the search, raise after
                    self.failure = self.failure or failure
                    return
                if on_event:
                    on_event("finished", number)

    class CrashReasons(tune.Callback):
        def on_trial_error(self, iteration, trials, trial, **info):
            searcher.record_crashes({trial.trial_id: crash_reason(trial.error_file, name)})

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
    remaining = max(1, study.max_trainings() - study.trainings_started())  # an upper bound: the study ends the run
    searcher = StudySearcher()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, num_samples=remaining,
            max_concurrent_trials=resources.concurrency, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(run_dir).resolve()), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0), callbacks=[CrashReasons()],
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    tuner.fit()
    searcher.record_crashes()
    if searcher.failure is not None:
        raise searcher.failure


def _result_of(result: dict) -> dict:
    keys = ("accuracy", "loss", "train_loss", "train_seconds", "images_per_second", "latency_ms",
            "latency_ms_batch", "peak_memory_bytes", "device")
    final = {key: result[key] for key in keys if key in result}
    final["epochs"] = result.get("epochs", result.get("epoch"))
    return final


def stop_ray(session: RaySession | None) -> None:
    """Shut down the Ray this run started (not one it joined), and restore what start_ray changed."""
    if not isinstance(session, RaySession):  # start_ray never returned: nothing to undo
        return
    if session.started:
        import ray

        ray.shutdown()
    _restore(session)
