"""The whole search from Python (``scalesearch.search(...)``); the CLI only parses and calls this.

Not named search.py: a submodule of that name would replace the package attribute ``scalesearch.search``
(the function) with itself as soon as anything imported it."""
from __future__ import annotations

import dataclasses
import datetime
import errno
import functools
import json
import os
import platform
import time
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.pipeline.options import CONFIG_FILE, RunOptions, save_config, validate
from scalesearch.runs.record import RUN_FILE, ProxyBase, RunRecord, read_run_file, write_run_file  # noqa: F401
from scalesearch.foundation.status import TRAINED, RunStatus, TrialStatus
from scalesearch.study.samplers import GridSpec
from scalesearch.foundation.run_files import is_run


@dataclasses.dataclass
class Outcome:
    """What a run leaves behind."""

    table: object  # the results table (pandas)
    run_dir: Path
    status: RunStatus  # complete | interrupted | failed
    report: Path | None = None
    winner_json: Path | None = None
    message: str = ""  # why it failed, in one line
    tie_break: str = "latency"  # how the winner was picked among networks tied within the noise

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.COMPLETE


def run_folder(options: RunOptions) -> Path:
    """Where the run lives: --out, or reports/<run name>."""
    if options.out:
        return Path(options.out)
    return Path("reports") / (options.name or datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S"))


def versions() -> dict:
    """Read from the installed packages' metadata: Ray itself is imported by pipeline/ray_runner.py only."""
    from importlib.metadata import version

    import torch

    from scalesearch import __version__

    return {"scalesearch": __version__, "torch": torch.__version__, "optuna": version("optuna"),
            "ray": version("ray"), "python": platform.python_version()}


def search(budget: float | str = 2.0, space: str = "efficientnet_b0", data: str = "synthetic",
           sampler: str = "tpe", trials: int | None = None, out: str | None = None, *,
           progress=None, command: str | None = None, **options):
    """Run the search; returns its ``Outcome``: ``.table`` (the results table, pandas), ``.status``,
    ``.run_dir``, ``.report`` and ``.winner_json``. See ``RunOptions`` for every option.

    ``search(out=RUN_DIR, resume=True)`` continues that run with the options it was started with (its config.yaml),
    as ``scalesearch run --resume RUN_DIR`` does; keyword ``options`` given with it override those."""
    if options.get("resume"):
        from scalesearch.pipeline.options import options_from

        if out is None:
            raise InputError("resume=True needs out=RUN_DIR, the run to continue")
        return run(options_from({**options, "resume": out}), progress=progress, command=command)
    run_options = RunOptions(budget=budget, space=space, data=data, sampler=sampler, trials=trials, out=out)
    for key, value in options.items():
        if not hasattr(run_options, key):
            raise InputError(f"unknown search option {key!r}")
        setattr(run_options, key, value)
    return run(run_options, progress=progress, command=command)


def run(options: RunOptions, progress=None, command: str | None = None):
    """The run. Optuna's log level is the run's own while it lasts: a notebook keeps its own afterwards."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return _run(options, progress, command)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _run(options: RunOptions, progress=None, command: str | None = None):
    """Every check that can fail runs before the folder is touched or Ray starts (nothing a user ran may be
    lost to a typo); a replaced run is deleted only once the new one is under way."""
    from scalesearch.pipeline.folder_claim import claim_folder, refuse_if_in_use
    from scalesearch.cost.measure import measure
    from scalesearch.pipeline.objectives import OBJECTIVES
    from scalesearch.pipeline.ray_runner import check_resources, run_trials, start_ray, stop_ray
    from scalesearch.model.scaling import proxy_base, scale
    from scalesearch.model.spaces import load_space
    from scalesearch.study.feasibility import feasible_grid
    from scalesearch.study.search_study import SearchSettings, SearchStudy

    # Said first, whatever else the folder holds: a live run's folder is not to be resumed or replaced.
    refuse_if_in_use(run_folder(options))
    if options.resume:  # before its options are used: they come from the config.yaml it may lack
        _refuse_a_resume_of_a_run_never_set_up(run_folder(options))
    options = validate(options)
    full_space = load_space(options.space)
    resources = resources_for(options)
    device = _device(options, resources)
    preset, dataset, settings = prepare_data(options, device)
    base = proxy_base(full_space, preset.base_width, preset.base_depth, options.base_resolution or preset.base_resolution)
    num_classes = dataset.num_classes if dataset is not None else 10
    base_cost = measure(scale(base), num_classes, counter="arithmetic")  # the candidates' own counter (cost/measure.py)
    trials = options.trials or preset.trials
    search_settings = SearchSettings(
        budget=options.budget, tolerance=options.tolerance, constraint=options.constraint, sampler=options.sampler,
        trials=trials, seed=options.seed, references=options.references, num_classes=num_classes,
        grid=GridSpec(tuple(options.grid_alpha), tuple(options.grid_beta), tuple(options.grid_gamma), options.grid_step),
        seeds=options.seeds, confirm=options.confirm, allow_shrink=options.allow_shrink,
    )
    if options.sampler == "grid":
        # An empty grid is refused here, before the folder is touched or Ray starts.
        feasible_grid(search_settings.grid, budget=options.budget, tolerance=options.tolerance,
                      constraint=options.constraint, seed=options.seed)
    folder = run_folder(options)
    claim = claim_folder(folder, resume=options.resume, force=options.force, command=command)
    ray_started = False
    try:
        previous = (read_run_file(folder) if options.resume else None) or RunRecord()
        started_clock = time.time()
        ray_started = start_ray(resources, options.verbose, declare_gpus=_declared_gpus(options))
        check_resources(resources)
        study = SearchStudy(folder, base, base_cost.flops, search_settings, resume=options.resume)
        record = RunRecord(
            name=folder.name, status=RunStatus.RUNNING,
            command=command or previous.command, space=options.space, budget=options.budget,
            tolerance=options.tolerance, constraint=options.constraint, sampler=options.sampler,
            trials=trials, seed=options.seed, seeds=options.seeds, confirm=options.confirm,
            tie_break=options.tie_break, allow_shrink=options.allow_shrink,
            num_classes=num_classes, device=device,
            proxy_base=ProxyBase(width=preset.base_width, depth=preset.base_depth, resolution=base.resolution,
                                 flops=base_cost.flops, params=base_cost.params, activations=base_cost.activations),
            data=dataset.describe() if dataset is not None else f"none ({options.objective} objective)",
            preset=dataclasses.asdict(preset), objective=options.objective,
            proxy={key: settings[key] for key in ("epochs", "batch_size", "learning_rate") if key in settings},
            started=previous.started or _now(), resumed=bool(options.resume),
            versions=versions(), machine=_machine(), grid=study.grid_summary(),
            max_trainings=study.max_trainings(), references=study.reference_count(),
            max_confirm=study.max_trainings() - study.reference_count() - trials,
        )
        write_run_file(folder, record)
        save_config(folder, options)
    except BaseException as error:
        replacing = claim.aside is not None
        stop_ray(ray_started)
        claim.abandon()
        claim.release()
        if _disk_full(error):
            if options.resume:
                then = f"scalesearch run --resume {folder}"
            elif not replacing and is_run(folder):
                then = "run the same command again with --force"  # its first files are there, its config is not
            else:
                then = "run the same command again"
            raise InputError(f"the disk holding {folder} is full ({_disk_full(error)}); free space, then {then}") from None
        raise
    claim.commit()  # the new run is under way: the run it replaces may go
    try:
        if progress:
            progress.begin(record, study)
        status, message = RunStatus.INTERRUPTED, ""
        try:
            run_trials(study, dataset, OBJECTIVES[options.objective], settings, resources, folder,
                       on_event=progress.event if progress else None)
            _time_the_tied(study, base, num_classes, options.tie_break, device, resources)
            status, message = _judge(study.table(), search_settings)
            if options.curve and status == RunStatus.COMPLETE:
                _train_curve(study.table(), options, base, num_classes, dataset, settings, resources, folder, progress)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            status, message = RunStatus.FAILED, f"{type(error).__name__}: {error}"
            raise
        finally:
            record.status, record.finished = status, _now()
            record.wall_seconds = (previous.wall_seconds or 0.0) + time.time() - started_clock
            write_run_file(folder, record)
            outcome = Outcome(study.table(), folder, status, message=message, tie_break=options.tie_break)
            _write_outputs(outcome)
    except (OSError, InputError) as error:  # from the journal, a table, run.json or the report
        if not _disk_full(error):
            raise
        # Every write is whole or absent (temporary file, then rename; the journal's cut record is dropped on
        # resume), so what finished is kept.
        raise InputError(f"the disk holding {folder} is full ({_disk_full(error)}); free space, then "
                         f"scalesearch run --resume {folder}") from None
    finally:
        stop_ray(ray_started)
        claim.release()
    return outcome


def _train_curve(table, options: RunOptions, base, num_classes: int, dataset, settings: dict, resources, folder: Path,
                 progress) -> None:
    """The paper's Figure 3 on this run's proxy (study/curve.py): what it costs is said before it trains."""
    from scalesearch.cost.measure import measure
    from scalesearch.pipeline.options import curve_phis
    from scalesearch.pipeline.ray_runner import run_trials, slots
    from scalesearch.study.curve import CURVE_FILE, curve_plan
    from scalesearch.study.planned import PlannedTrainings, estimated_seconds
    from scalesearch.pipeline.objectives import OBJECTIVES
    from scalesearch.verdict.verdict import decide

    verdict = decide(table, options.tie_break)
    if verdict is None:
        return
    phis = curve_phis(options.curve_phi)
    seeds = list(range(options.seed, options.seed + options.seeds))
    plan, done = curve_plan(table, verdict, base, phis=phis, seeds=seeds, num_classes=num_classes,
                            cost=functools.partial(measure, counter="arithmetic"))
    stage = PlannedTrainings(folder / CURVE_FILE, plan, done)
    pending = stage.pending()
    seconds = estimated_seconds(pending, table)
    parallel = slots(resources)
    cost = (f", about {seconds / 60:.1f} min of training: ~{seconds / parallel / 60:.1f} min on {parallel} slot(s)"
            if seconds is not None else "")
    rival = f" and {verdict.rival.name}" if verdict.rival is not None else ""
    description = (f"the winner {verdict.winner.name}{rival} at φ {phis[0]}–{phis[-1]}, seeds {', '.join(map(str, seeds))}: "
                   f"{len(pending)} trainings to go ({len(plan) - len(pending)} already done){cost}")
    if progress:
        progress.begin_stage("curve", stage, description)
    run_trials(stage, dataset, OBJECTIVES[options.objective], settings, resources, folder,
               on_event=progress.stage_event if progress else None, name="ray-curve")


def _disk_full(error: BaseException | None) -> str | None:
    """The system's words when ``error``, or what it came from, is a full disk or quota; None otherwise."""
    for _ in range(8):
        if error is None:
            return None
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error.strerror or os.strerror(error.errno)
        error = error.__cause__ or error.__context__
    return None


def _refuse_a_resume_of_a_run_never_set_up(folder: Path) -> None:
    """A run stopped (killed, or its disk full) after it took its folder but before it wrote config.yaml trained
    nothing, and its options are unknown: resumed, it would run the defaults. Say how to start it again."""
    from scalesearch.pipeline.folder_claim import ASIDE_PREFIX, LOCK_FILE

    if not (folder / LOCK_FILE).exists() or (folder / CONFIG_FILE).exists():
        return  # not a run stopped in its setup: claim_folder says what it is
    command = None
    for name in (RUN_FILE, LOCK_FILE):  # run.json, else the lock file of the run that took the folder
        try:
            command = command or json.loads((folder / name).read_text()).get("command")
        except (OSError, ValueError, AttributeError):
            pass
    again = command or f"the same options and --out {folder}"
    asides = sorted(folder.glob(f"{ASIDE_PREFIX}*"))
    if asides:  # a --force stopped before its new run was under way: the run it replaces is still there
        raise InputError(f"cannot resume: {folder} was stopped while --force replaced its run, before the new one was "
                         f"set up; the old run is intact in {asides[-1]}: to keep it, move its files back into {folder} in "
                         f"place of the new run's; or start the new run again, which deletes it: {again}")
    if is_run(folder) and "--force" not in again.split():
        again += " --force"  # its first files are there: replace them
    raise InputError(f"cannot resume: {folder} was stopped before its first trial was set up (it has no "
                     f"{CONFIG_FILE}), so nothing is lost; start it again: {again}")


def _time_the_tied(study, base, num_classes: int, tie_break: str, device: str, resources) -> None:
    """Times the networks tied for the win alone, once the trainings are over, for --tie-break latency: a trial's own
    figure was timed beside other trainings (cost/latency.py). Kept in the study, so a resume does not time again.
    A run on an existing cluster (--address), or a driver that lacks the trials' GPU, leaves the trials' own figures
    to the tie-break: the driver's machine is not the trials'."""
    import warnings

    import torch

    from scalesearch.cost.latency import time_alone
    from scalesearch.pipeline.ray_runner import threads_for
    from scalesearch.study.rebuild import rebuild
    from scalesearch.verdict.verdict import decide

    if tie_break != "latency" or resources.address or (device == "cuda" and not torch.cuda.is_available()):
        return  # on a cluster or without the trials' GPU, this machine would time the wrong device
    table = study.table()
    verdict = decide(table, tie_break)
    if verdict is None or len(verdict.tied) < 2 or set(verdict.tied) <= set(study.latency_alone()):
        return
    first = table.drop_duplicates("architecture")
    specs = {row["architecture"]: rebuild(base, row) for _, row in first.iterrows() if row["architecture"] in verdict.tied}
    threads = threads_for(resources.cpus_per_trial) if device == "cpu" else torch.get_num_threads()
    try:
        timings = time_alone(specs, num_classes, torch.device(device), threads)
    except Exception as error:  # e.g. the device busy or out of memory: a finished run is not failed by it
        warnings.warn(f"could not time the {len(specs)} tied networks alone ({type(error).__name__}: {error}); the "
                      "tie-break uses the trials' own latency", stacklevel=2)
        return
    study.record_latency_alone(timings)


def _judge(table, settings) -> tuple[RunStatus, str]:
    """complete, unless every training failed or no searched candidate completed on budget: a search
    that trained only references has found nothing (then the smallest tolerance its candidates could meet)."""
    from scalesearch.foundation.table import completed

    trained = table[table["status"].isin(TRAINED)]
    if len(trained) and (trained["status"] == TrialStatus.FAILED).all():
        return RunStatus.FAILED, f"every trial failed; the first: {trained.iloc[0]['reason']}"
    searched = table[table["reference"].fillna("") == ""]
    if completed(searched).empty:
        distances = (searched["flops_ratio"] - settings.budget).abs().dropna()
        nearest = (f"; the nearest candidate measured {distances.min():.4f}x off the {settings.budget:g}x budget, so "
                   f"--tolerance {distances.min() * 1.01:.4f} would admit it") if len(distances) else ""
        return RunStatus.FAILED, f"no searched candidate completed on budget (tolerance {settings.tolerance:g}){nearest}"
    return RunStatus.COMPLETE, ""


def _write_outputs(outcome: Outcome) -> None:
    """The report always (it says plainly when nothing completed); the winner's JSON when there is one."""
    from scalesearch.runs.export import export_run
    from scalesearch.report.write import write_report
    from scalesearch.foundation.table import completed

    if not completed(outcome.table).empty:
        try:
            outcome.winner_json = Path(export_run(outcome.run_dir)["json"])
        except InputError as error:  # the report below still says what there is
            outcome.message = outcome.message or str(error)
    outcome.report = write_report(outcome.run_dir)


def resources_for(options: RunOptions):
    """What each trial asks of Ray, and where Ray is."""
    from scalesearch.pipeline.ray_runner import Resources

    return Resources(options.cpus_per_trial or 1.0, _gpus_per_trial(options), options.concurrency, options.address,
                     options.scheduler)


def _gpus_per_trial(options: RunOptions) -> float:
    """Explicit, or a quarter of a GPU where this machine has one: small proxies share it well."""
    if options.gpus_per_trial is not None:
        return options.gpus_per_trial
    import torch

    return 0.25 if not options.address and torch.cuda.is_available() else 0.0


def _declared_gpus(options: RunOptions) -> int | None:
    """One GPU for a local Ray on a machine without one, under the test aid SCALESEARCH_CUDA_ON_CPU=1 only
    (training/recipe.py): trials that ask for GPU fractions then share it as on a GPU machine, and train on the CPU."""
    from scalesearch.training.recipe import cuda_on_cpu

    return 1 if cuda_on_cpu() and not options.address and (options.gpus_per_trial or 0) > 0 else None


def _device(options: RunOptions, resources) -> str:
    if resources.gpus_per_trial > 0:
        return "cuda"
    return "cpu"


def prepare_data(options: RunOptions, device: str):
    """(the preset, the dataset or None for the analytic objective, the trials' settings), checked."""
    from scalesearch.training.presets import resolve_preset

    preset = resolve_preset(options.preset, device)
    settings = {"epochs": options.proxy_epochs or preset.epochs, "batch_size": preset.batch_size,
                "learning_rate": preset.learning_rate, "device": device}
    settings.update(options.objective_settings)
    if options.objective == "analytic":
        return preset, None, settings
    from scalesearch.training.proxy import proxy_config

    proxy_config(settings)  # an unknown or bad proxy setting is refused here, in one line, before any work
    from scalesearch.data.datasets import load_dataset

    dataset = load_dataset(options.data, proxy_images=options.proxy_images or preset.proxy_images,
                           val_images=preset.val_images, source_resolution=preset.source_resolution, seed=options.seed)
    return preset, dataset, settings


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _machine() -> dict:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}
