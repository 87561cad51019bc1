"""The Ray Tune runner: a study's proposals trained as Tune trials (pipeline/study_searcher.py decides what the
searcher does; this module adapts it to Tune), in the Ray session pipeline/ray_session.py started."""
from __future__ import annotations

from pathlib import Path

from scalesearch.pipeline.resources import Resources, threads_for
from scalesearch.pipeline.study_searcher import FINISHED, TRAIN_AGAIN_LIMIT, StudySearcher
from scalesearch.runs.learning_curves import SEARCH, LearningCurve, LearningCurves


def _trainable(config, dataset=None, objective=None, settings=None, cpus=1.0):
    """One Ray trial: rebuild the candidate from plain data, run the objective, report. Every report says the node
    it came from: the table's ``node``, and how a crash is told from the loss of its node (trial_crash.node_lost)."""
    import torch
    from ray import tune

    from scalesearch.model.scaling import ModelSpec

    torch.set_num_threads(threads_for(cpus))
    spec = ModelSpec.from_dict(config["spec"])
    trial_settings = dict(settings or {}, seed=config["seed"])
    if "epochs" in config:  # a rung of --fidelity halving trains for its own length
        trial_settings["epochs"] = config["epochs"]
    node = this_node()
    try:
        result = objective(spec, dataset, trial_settings, lambda metrics: tune.report(dict(metrics, node=node)))
    except Exception as error:  # any failure of one candidate becomes a failed trial, not a crash
        message = f"{type(error).__name__}: {error}".strip()
        # Tune insists on the metric in every report; the study reads "failed" first.
        reason = message.splitlines()[0][:300] if message else type(error).__name__
        tune.report({"failed": reason, "accuracy": 0.0, "epoch": 0, "node": node})
        return
    tune.report(dict(result, final=True, node=node))


def this_node() -> str:
    """The Ray node this process runs on, as the table's ``node`` column says it: IP and node id's first 8 hex."""
    import ray

    return f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"


def run_trials(study, dataset, objective, settings: dict, resources: Resources, run_dir: Path, on_event=None,
               name: str = "ray", stage: str = SEARCH, tensorboard: str | None = None) -> None:
    """Runs until the study proposes nothing more. Every finished trial is told to the study at once, and its
    learning curve kept in ``run_dir`` first (runs/learning_curves.py; ``stage``: which stage's curves these are).
    ``name``: the folder of Tune's own files in ``run_dir`` (one per stage). ``tensorboard``: a folder that gets
    every curve as TensorBoard event files too (--tensorboard)."""
    from ray import tune

    from scalesearch.pipeline.trial_crash import crash_reason, node_lost
    from scalesearch.training.proxy import ProxyConfig

    epochs = int(settings.get("epochs", ProxyConfig.epochs))  # a trial's length, unless the settings say
    searcher = StudySearcher(study, epochs, on_event, on_curve=_curve_keeper(run_dir, tensorboard), stage=stage)

    class CrashReasons(tune.Callback):
        """Tune calls this right after the searcher heard of the crash: the reason is in the trial's error file. A
        trial lost with its node is trained again on another; any other crash is the training's own failure."""

        def on_trial_error(self, iteration, trials, trial, **info):
            reason = crash_reason(trial.error_file, name)
            if node_lost(trial.error_file, (trial.last_result or {}).get("node"), _live_nodes()):
                searcher.train_again(trial.trial_id, f"lost with its Ray node {TRAIN_AGAIN_LIMIT + 1} times: {reason}")
            else:
                searcher.record_crashes({trial.trial_id: reason})

    scheduler = None
    if resources.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        # max_t beyond the last epoch: the final report (with latency etc.) must never be cut off.
        scheduler = ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max", max_t=epochs + 1,
                                  grace_period=1, reduction_factor=2)
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, dataset=dataset, objective=objective, settings=settings,
                             cpus=resources.cpus_per_trial),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial},
    )
    # An upper bound (the study ends the run), with room for every training to be trained again after a lost node.
    remaining = max(1, study.max_trainings() - study.trainings_started()) * (1 + TRAIN_AGAIN_LIMIT)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=_tune_searcher(searcher), scheduler=scheduler, num_samples=remaining,
            max_concurrent_trials=resources.concurrency, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(run_dir).resolve()), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0), callbacks=[CrashReasons()],
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    tuner.fit()
    searcher.finish()


def _live_nodes() -> set[str]:
    """The ids (hex) of the cluster's nodes that are alive, as the driver's Ray knows them now."""
    import ray

    return {node["NodeID"] for node in ray.nodes() if node.get("Alive")}


def _curve_keeper(run_dir: Path, tensorboard: str | None):
    """What a finished training's learning curve goes to: learning_curves.csv (a resumed run's earlier curves kept),
    then the TensorBoard folder, which first gets the recorded curves it lacks."""
    curves = LearningCurves(run_dir)
    board = None
    if tensorboard:
        from scalesearch.runs.tensorboard_events import TensorBoardRuns

        board = TensorBoardRuns(tensorboard)
        board.write_missing(curves.curves())

    def keep(curve: LearningCurve) -> None:
        curves.record(curve)  # the run folder's record first: the report reads it, and a resume keeps it
        if board is not None:
            board.write(curve)

    return keep


def _tune_searcher(searcher: StudySearcher):
    """Tune's ``Searcher`` over ``searcher``: proposals out, results in."""
    from ray.tune.search import Searcher

    class TuneSearcher(Searcher):
        def __init__(self):
            super().__init__(metric="accuracy", mode="max")

        def set_search_properties(self, metric, mode, config, **spec):
            return True

        def suggest(self, trial_id):
            config = searcher.suggest(trial_id)
            return Searcher.FINISHED if config == FINISHED else config

        def on_trial_result(self, trial_id, result):
            searcher.on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id, result=None, error=False):
            searcher.on_trial_complete(trial_id, result, error)

    return TuneSearcher()
