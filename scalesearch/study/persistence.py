"""The search's study on disk: its journal created or loaded on resume, the sampler's pickle beside it, the table
rewritten from it after every event, the tie-break's latency stored in it, and the recovery after a kill.

The Optuna study (a journal file in the run folder) is the source of truth: every table column is stored as a
trial user attribute, so a killed run loses nothing finished.
"""
from __future__ import annotations

import copyreg
import pickle
import threading
from pathlib import Path

from scalesearch.foundation.atomic import atomic_path
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import SAMPLER_FILE, STUDY_FILE, TABLE_CSV
from scalesearch.foundation.status import ATTEMPTED, TrialStatus
from scalesearch.foundation.table import COLUMNS, make_table, save_table
from scalesearch.study.confirm import CONFIRM
from scalesearch.study.journal import RunJournal, repair_journal, sync_journal
from scalesearch.verdict.verdict import LATENCY_ALONE  # a study attribute (architecture → ms) and the table's column

STUDY_NAME = "scalesearch"


def interrupted(trial) -> bool:
    """A trial in flight when its run was killed: told FAIL on resume while its status still says running
    (a real failure records status "failed" before it is told). Older journals marked it with an attribute."""
    import optuna

    return trial.state == optuna.trial.TrialState.FAIL and (
        trial.user_attrs.get("status") == TrialStatus.RUNNING or bool(trial.user_attrs.get("interrupted")))


def new_study(run_dir: Path, sampler, directions: list[str]):
    import optuna
    from optuna.storages import JournalStorage

    storage = JournalStorage(RunJournal(run_dir / STUDY_FILE))
    return optuna.create_study(study_name=STUDY_NAME, storage=storage, sampler=sampler, directions=directions)


def resumed_study(run_dir: Path, sampler):
    """The study of a run being resumed (None: it has none yet); a missing or damaged journal that the run's
    table shows trials for is said, never silently replaced by a fresh study."""
    import optuna
    from optuna.storages import JournalStorage

    path = run_dir / STUDY_FILE
    repair_journal(path)
    if not path.exists() or path.stat().st_size == 0:
        table = run_dir / TABLE_CSV
        if not table.exists() or len(table.read_text().splitlines()) <= 1:
            return None  # killed before its first trial: nothing to lose, the run starts its study afresh
        raise InputError(f"cannot resume: {path} is missing or empty, so the run's trials are unknown; the last "
                         f"table written is {run_dir / TABLE_CSV}; start a new run with another --out")
    try:
        return optuna.load_study(study_name=STUDY_NAME, storage=JournalStorage(RunJournal(path)), sampler=sampler)
    except (KeyError, ValueError) as error:  # no study in it (KeyError), or a line that is not JSON (ValueError)
        raise InputError(f"cannot resume: {path} is damaged ({type(error).__name__}: {str(error)[:80]}); the last table "
                         f"written is {run_dir / TABLE_CSV}; restore the file or start a new run with another --out") from None


def load_sampler(run_dir: Path):
    """The sampler saved beside the journal (None: none was), which the storage does not keep."""
    path = run_dir / SAMPLER_FILE
    if not path.exists():
        return None
    try:
        with open(path, "rb") as handle:  # only ever a file this tool wrote in the user's own run folder
            return pickle.load(handle)
    except Exception as error:  # unpickling a damaged file raises nearly any type
        raise InputError(f"{path} is damaged ({type(error).__name__}); delete it and resume again: the sampler "
                         f"restarts from the finished trials, which {STUDY_FILE} keeps") from None


class _SamplerPickler(pickle.Pickler):
    """Saves a thread lock as a fresh one: a lock carries no state worth keeping, and some samplers hold one
    (optuna 5.1's NSGAIISampler), which plain pickle refuses."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[type(threading.Lock())] = lambda lock: (threading.Lock, ())
    dispatch_table[type(threading.RLock())] = lambda lock: (threading.RLock, ())


def save(study, run_dir: Path) -> None:
    """The table and the sampler, each written whole."""
    save_table(study_table(study), run_dir)
    with atomic_path(run_dir / SAMPLER_FILE) as temporary, open(temporary, "wb") as handle:
        _SamplerPickler(handle).dump(study.sampler)


def study_table(study):
    rows = []
    alone = latency_alone(study)
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if "status" not in attrs or interrupted(trial):
            continue
        row = {key: attrs[key] for key in COLUMNS if key in attrs}
        row["trial"] = trial.number
        if attrs.get("architecture") in alone and attrs.get("status") == TrialStatus.COMPLETE:
            row[LATENCY_ALONE] = alone[attrs["architecture"]]
        rows.append(row)
    return make_table(rows)


def latency_alone(study) -> dict[str, float]:
    """Architecture → ms at batch 1, timed after the search with the tied networks alone (cost/latency.py)."""
    return dict(study.user_attrs.get(LATENCY_ALONE, {}))


def record_latency_alone(study, run_dir: Path, latencies: dict[str, float]) -> None:
    study.set_user_attr(LATENCY_ALONE, {str(key): float(value) for key, value in latencies.items()})
    sync(run_dir)


def sync(run_dir: Path) -> None:
    """What the journal holds so far survives even a power cut (journal.py: it is not fsynced per record)."""
    sync_journal(run_dir / STUDY_FILE)


def recover(study) -> dict[str, int]:
    """After a crash: finished trials stay; trials that were in flight are queued again. Returns architecture →
    the trial that trained it, for the trials that did."""
    import optuna

    trial_of_architecture: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if trial.state == optuna.trial.TrialState.RUNNING:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)  # now interrupted(trial)
            if attrs.get("stage") == CONFIRM or attrs.get("rung_of") is not None:
                continue  # the confirm plan or the rungs' (study/halving.py), derived from the table, ask again
            requeue = {key: attrs[key] for key in ("reference", "ref_alpha", "ref_beta", "ref_gamma", "ref_solve")
                       if "ref_alpha" in attrs}
            study.enqueue_trial(trial.params, user_attrs=requeue)
        elif attrs.get("status") in ATTEMPTED:
            trial_of_architecture.setdefault(attrs["architecture"], trial.number)
    return trial_of_architecture
