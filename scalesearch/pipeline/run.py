"""The whole search from Python (``scalesearch.search(...)``) and the order of its steps; the CLI only parses and
calls this.

Not named search.py: a submodule of that name would replace the package attribute ``scalesearch.search``
(the function) with itself as soon as anything imported it."""
from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import CONFIG_FILE, LOCK_FILE, is_run
from scalesearch.foundation.status import ATTEMPTED, RunStatus, TrialStatus
from scalesearch.pipeline.full_disk import raise_if_disk_full, resume_it, start_it_again
from scalesearch.pipeline.options import RunOptions, save_config, validate
from scalesearch.pipeline.prepare import Prepared, prepare
from scalesearch.pipeline.provenance import now
from scalesearch.runs.record import RunRecord, read_run_file, write_run_file
from scalesearch.verdict.sequential import Looks

if TYPE_CHECKING:  # imported where they are used (Optuna)
    from scalesearch.pipeline.ray_session import RaySession
    from scalesearch.study.search_study import SearchStudy

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
    looks: Looks = Looks()  # where the verdict could stop on a finding (--seeds auto)

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.COMPLETE


@dataclasses.dataclass
class _UnderWay:
    """A run set up: its Ray session, study and run.json record, and what its wall time adds up from."""

    session: RaySession
    study: SearchStudy
    record: RunRecord
    clock: float  # time.time() as its set-up began
    earlier_seconds: float  # the wall time of the run it resumes


def run_folder(options: RunOptions) -> Path:
    """Where the run lives: --out, or reports/<run name>."""
    if options.out:
        return Path(options.out)
    return Path("reports") / (options.name or datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S"))


def search(budget: float | str = 2.0, space: str = "efficientnet_b0", data: str = RunOptions.data,
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
    lost to a typo); a replaced run is deleted only once the new one is under way.

    A Ctrl-C or a SIGTERM (foundation/errors.Terminated, a KeyboardInterrupt) leaves with ``next_step``: what the
    one line the CLI prints says to do next."""
    from scalesearch.pipeline.folder_claim import claim_folder, refuse_if_in_use
    from scalesearch.pipeline.ray_session import signals_held, stop_ray

    # Said first, whatever else the folder holds: a live run's folder is not to be resumed or replaced.
    refuse_if_in_use(run_folder(options))
    if options.resume:  # before its options are used: they come from the config.yaml it may lack
        _refuse_a_resume_of_a_run_never_set_up(run_folder(options))
    options = validate(options)
    folder = run_folder(options)
    try:
        prepared = prepare(options)
        if options.sampler == "grid":  # a grid with no point on budget is refused before the folder or Ray
            _refuse_an_empty_grid(options, prepared)
        claim = claim_folder(folder, resume=options.resume, force=options.force, command=command)
        under_way = _set_up(options, prepared, folder, claim, command)
    except KeyboardInterrupt as interruption:
        interruption.next_step = _start_it_again(folder, options, command)
        raise
    claim.commit()  # the new run is under way: the run it replaces may go
    try:
        return _search(options, prepared, folder, under_way, progress)
    except KeyboardInterrupt as interruption:  # the table, the report and winner.json say interrupted
        interruption.next_step = f"finished trials are kept. Continue with: scalesearch run --resume {folder}"
        raise
    except (OSError, InputError) as error:  # from the journal, a table, run.json or the report
        raise_if_disk_full(error, folder, lambda: resume_it(folder))
        raise
    finally:
        with signals_held():  # a second signal must not leave Ray's processes behind
            stop_ray(under_way.session)
            claim.release()


def _refuse_an_empty_grid(options: RunOptions, prepared: Prepared) -> None:
    """A grid search whose grid has no point on budget; in measured mode, none once measured (study/feasibility.py)."""
    from scalesearch.study.feasibility import feasible_grid, refuse_an_unmeetable_grid

    settings = prepared.search_settings
    if options.constraint == "measured":  # first: its smallest tolerance is the one that works once measured
        refuse_an_unmeetable_grid(settings.grid, prepared.base, prepared.base_cost.flops, budget=options.budget,
                                  tolerance=options.tolerance, num_classes=settings.num_classes,
                                  allow_shrink=options.allow_shrink)
    feasible_grid(settings.grid, budget=options.budget, tolerance=options.tolerance, constraint=options.constraint,
                  seed=options.seed)


def _start_it_again(folder: Path, options: RunOptions, command: str | None) -> str:
    """What to do after a run stopped before it was under way (no training yet; _set_up gave the folder back)."""
    if options.resume:
        return f"finished trials are kept. Continue with: scalesearch run --resume {folder}"
    again = command or f"the same options and --out {folder}"
    if is_run(folder) and "--force" not in again.split():
        again += " --force"  # its first files are there: replace them
    return f"nothing was trained yet; start it again: {again}"


def _set_up(options: RunOptions, prepared: Prepared, folder: Path, claim, command: str | None) -> _UnderWay:
    """Ray, the study, run.json and config.yaml. Should any of it fail, the folder is given back as it was found
    (a replaced run put back) before the error is raised."""
    from scalesearch.pipeline.ray_session import check_resources, signals_held, start_ray, stop_ray
    from scalesearch.pipeline.run_record import starting_record
    from scalesearch.study.search_study import SearchStudy

    session = None
    try:
        previous = (read_run_file(folder) if options.resume else None) or RunRecord()
        clock = time.time()
        session = start_ray(prepared.resources, options.verbose, declare_gpus=prepared.declared_gpus)
        check_resources(prepared.resources)
        study = SearchStudy(folder, prepared.base, prepared.base_cost.flops, prepared.search_settings,
                            resume=options.resume)
        record = starting_record(options, prepared, study, name=folder.name, command=command, previous=previous)
        write_run_file(folder, record)
        save_config(folder, options)
    except BaseException as error:
        replacing = claim.aside is not None
        with signals_held():  # a second signal must not leave a replaced run half put back
            stop_ray(session)
            claim.abandon()
            claim.release()
        raise_if_disk_full(error, folder, lambda: start_it_again(folder, resume=options.resume, replacing=replacing))
        raise
    return _UnderWay(session, study, record, clock, previous.wall_seconds or 0.0)


def _search(options: RunOptions, prepared: Prepared, folder: Path, under_way: _UnderWay, progress) -> Outcome:
    """The trainings, the tie timing, the verdict, the curve; however it ends, run.json says how, and the report
    (with the winner's JSON) is written."""
    from scalesearch.pipeline.curve_stage import train_curve
    from scalesearch.pipeline.objectives import OBJECTIVES
    from scalesearch.pipeline.ray_runner import run_trials
    from scalesearch.pipeline.ray_session import signals_held
    from scalesearch.pipeline.tie_timing import time_the_tied

    study, record = under_way.study, under_way.record
    if progress:
        progress.begin(record, study)
    status, message = RunStatus.INTERRUPTED, ""
    try:
        run_trials(study, prepared.dataset, OBJECTIVES[options.objective], prepared.trial_settings, prepared.resources,
                   folder, on_event=progress.event if progress else None, tensorboard=options.tensorboard)
        time_the_tied(study, prepared, options.tie_break)
        status, message = _judge(study.table(), prepared.search_settings)
        if options.curve and status == RunStatus.COMPLETE:
            train_curve(study.table(), options, prepared, folder, progress)
    except Exception as error:  # a Ctrl-C (KeyboardInterrupt) leaves the run interrupted
        status, message = RunStatus.FAILED, f"{type(error).__name__}: {error}"
        raise
    finally:
        with signals_held():  # the files that say how the run ended, each whole, whatever a second signal says
            # The table again: a signal can land between a save's CSV and its Parquet, leaving one a row behind.
            study.save()
            record.status, record.finished = status, now()
            record.wall_seconds = under_way.earlier_seconds + time.time() - under_way.clock
            write_run_file(folder, record)
            outcome = Outcome(study.table(), folder, status, message=message, tie_break=options.tie_break,
                              looks=prepared.search_settings.looks)
            _write_outputs(outcome)
    return outcome


def _refuse_a_resume_of_a_run_never_set_up(folder: Path) -> None:
    """A run stopped (killed, or its disk full) after it took its folder but before it wrote config.yaml trained
    nothing, and its options are unknown: resumed, it would run the defaults. Say how to start it again."""
    from scalesearch.pipeline.folder_claim import ASIDE_PREFIX, lock_command

    if not (folder / LOCK_FILE).exists() or (folder / CONFIG_FILE).exists():
        return  # not a run stopped in its setup: claim_folder says what it is
    try:
        record = read_run_file(folder)
    except InputError:  # a damaged run.json: the lock file may still say the command
        record = None
    # run.json's command, else the lock file's, of the run that took the folder
    again = (record.command if record else None) or lock_command(folder) or f"the same options and --out {folder}"
    asides = sorted(folder.glob(f"{ASIDE_PREFIX}*"))
    if asides:  # a --force stopped before its new run was under way: the run it replaces is still there
        raise InputError(f"cannot resume: {folder} was stopped while --force replaced its run, before the new one was "
                         f"set up; the old run is intact in {asides[-1]}: to keep it, move its files back into {folder} in "
                         f"place of the new run's; or start the new run again, which deletes it: {again}")
    if is_run(folder) and "--force" not in again.split():
        again += " --force"  # its first files are there: replace them
    raise InputError(f"cannot resume: {folder} was stopped before its first trial was set up (it has no "
                     f"{CONFIG_FILE}), so nothing is lost; start it again: {again}")


def _judge(table, settings) -> tuple[RunStatus, str]:
    """complete, unless every training failed or no searched candidate completed on budget: a search
    that trained only references has found nothing (then the smallest tolerance its candidates could meet)."""
    from scalesearch.foundation.table import completed

    trained = table[table["status"].isin(ATTEMPTED)]
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
