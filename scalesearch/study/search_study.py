"""The search's state, without Ray: Optuna proposes, candidates are checked before any training,
results are told back, and the results table is rewritten after every event.

The Optuna study (a journal file in the run folder) is the source of truth: every
table column is stored as a trial user attribute, so a killed run loses nothing finished.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

from scalesearch.study.confirm import CONFIRM, EXPLORE, fillers, max_confirm_trainings, plan
from scalesearch.foundation.errors import InputError
from scalesearch.study.journal import RunJournal, repair_journal, sync_journal
from scalesearch.study.feasibility import Candidate, evaluate, evaluate_along, feasible_grid
from scalesearch.foundation.atomic import atomic_path
from scalesearch.foundation.status import TRAINED, TrialStatus
from scalesearch.foundation.table import COLUMNS, make_table, save_table
from scalesearch.verdict.verdict import LATENCY_ALONE  # a study attribute (architecture → ms) and the table's column
from scalesearch.study.samplers import (
    GridSpec,
    Reference,
    coefficients_from_shares,
    grid_depth_width_points,
    grid_points,
    make_sampler,
    reference_points,
    shares_from_coefficients,
    suggest_shares,
)
from scalesearch.model.scaling import scale
from scalesearch.model.spaces import SearchSpace
from scalesearch.foundation.run_files import SAMPLER_FILE, STUDY_FILE, TABLE_CSV

log = logging.getLogger("scalesearch.study.search_study")

STUDY_NAME = "scalesearch"
# What a confirm trial copies from the explore trial of its network.
DESCRIPTION_KEYS = ("reference", "feasible", "reason", "alpha", "beta", "gamma", "formula_product", "flops_ratio", "width",
                    "depth", "resolution", "flops", "params", "activations", "architecture", "sampler", "constraint",
                    "budget", "spec", "measure_seconds", "counter")
RESULT_KEYS = ("accuracy", "loss", "train_loss", "epochs", "train_seconds", "images_per_second",
               "latency_ms", "latency_ms_batch", "peak_memory_bytes", "device")


@dataclass(frozen=True)
class SearchSettings:
    budget: float
    tolerance: float = 0.1
    constraint: str = "measured"  # measured | formula
    sampler: str = "tpe"
    trials: int = 12  # proxy trainings (infeasible and duplicate candidates do not count)
    seed: int = 0
    references: bool = True
    grid: GridSpec = field(default_factory=GridSpec)
    num_classes: int = 10
    seeds: int = 1  # seeds per confirmed network; 1: no confirm stage
    confirm: int = 3  # the top distinct networks of the explore stage that the confirm stage trains again
    allow_shrink: bool = False  # the paper's rule is α, β, γ ≥ 1; True lets measured mode solve γ < 1


@dataclass(frozen=True)
class Proposal:
    """A candidate to train: what the Ray trial receives."""

    trial: int
    spec: dict
    seed: int


@dataclass(frozen=True)
class Waiting:
    """Nothing to train until trainings in flight finish (the confirm stage ranks their results first)."""

    reason: str


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _interrupted(trial) -> bool:
    """A trial in flight when its run was killed: told FAIL on resume while its status still says running
    (a real failure records status "failed" before it is told). Older journals marked it with an attribute."""
    import optuna

    return trial.state == optuna.trial.TrialState.FAIL and (
        trial.user_attrs.get("status") == TrialStatus.RUNNING or bool(trial.user_attrs.get("interrupted")))


def architecture_id(candidate: Candidate) -> str:
    return candidate.spec.identity()


def _load_study(run_dir: Path, sampler):
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


class SearchStudy:
    def __init__(self, run_dir: Path, base: SearchSpace, base_flops: int, settings: SearchSettings, *, resume: bool = False):
        import optuna
        from optuna.storages import JournalStorage

        self.run_dir, self.base, self.base_flops, self.settings = Path(run_dir), base, base_flops, settings
        self.multi_objective = settings.sampler == "nsga2"
        self.grid = feasible_grid(settings.grid, budget=settings.budget, tolerance=settings.tolerance,
                                  constraint=settings.constraint, seed=settings.seed) if settings.sampler == "grid" else None
        sampler = self._load_sampler() if resume else None
        sampler = sampler or make_sampler(settings.sampler, settings.seed, grid_size=len(self.grid or ()), trials=settings.trials)
        self.study = _load_study(self.run_dir, sampler) if resume else None
        fresh = self.study is None
        if fresh:
            storage = JournalStorage(RunJournal(self.run_dir / STUDY_FILE))
            self.study = optuna.create_study(study_name=STUDY_NAME, storage=storage, sampler=sampler,
                                             directions=["maximize", "minimize"] if self.multi_objective else ["maximize"])
        self.trained: dict[str, int] = {}  # architecture → the trial that trains it
        self.waiting: dict[int, list] = {}  # original trial → duplicates waiting for its result
        self.live: dict[int, object] = {}  # trial number → optuna.Trial in flight
        self.proposals = 0
        self.explore_done = False
        if not fresh:
            self._recover()
        elif settings.references:
            self._enqueue_references()
        self.save()

    # ----- proposals -------------------------------------------------------------------
    def grid_summary(self) -> dict | None:
        if self.grid is None:
            return None
        settings = self.settings
        total = len(grid_points(settings.grid)) if settings.constraint == "formula" else len(grid_depth_width_points(settings.grid))
        grid = settings.grid
        distinct = None
        if settings.constraint == "formula":  # without measuring: the rounded network and resolution
            distinct = len({scale(self.base, width=beta, depth=alpha, resolution=gamma).architecture_key() for alpha, beta, gamma in self.grid})
        return {"points": total, "candidates": len(self.grid), "distinct": distinct, "constraint": settings.constraint,
                "alpha_range": list(grid.alpha_range), "beta_range": list(grid.beta_range),
                "gamma_range": list(grid.gamma_range), "step": grid.step}

    def _enqueue_references(self) -> None:
        for reference in reference_points(self.base.name, self.settings.budget, self.settings.constraint):
            params = {}
            if self.settings.sampler != "grid":
                depth_share, width_share = shares_from_coefficients(reference.alpha, reference.beta, reference.gamma)
                params = {"depth_share": depth_share, "width_share": width_share}
            self.study.enqueue_trial(params, user_attrs={
                "reference": reference.label, "ref_alpha": reference.alpha, "ref_beta": reference.beta,
                "ref_gamma": reference.gamma, "ref_solve": reference.solve,
            })

    def _coefficients(self, trial) -> tuple[float, float, float, str, str]:
        """(α, β, γ, reference label, how to solve it: see samplers.Reference)."""
        attrs = trial.user_attrs
        if "ref_alpha" in attrs:
            if self.settings.sampler != "grid":  # keep the sampler's view of this trial consistent
                suggest_shares(trial)
            return attrs["ref_alpha"], attrs["ref_beta"], attrs["ref_gamma"], attrs["reference"], attrs["ref_solve"]
        if self.grid is not None:
            alpha, beta, gamma = self.grid[trial.suggest_categorical("grid_point", list(range(len(self.grid))))]
            return alpha, beta, gamma if gamma is not None else 1.0, "", "resolution"
        depth_share, width_share = suggest_shares(trial)
        return (*coefficients_from_shares(depth_share, width_share, self.settings.budget), "", "resolution")

    def _trainings(self) -> list:
        return [t for t in self.study.get_trials(deepcopy=False)
                if t.user_attrs.get("status") in (TrialStatus.RUNNING, *TRAINED) and not _interrupted(t)]

    def trainings_started(self) -> int:
        """Every training started, references and confirm seeds included."""
        return len(self._trainings())

    def searched_trainings_started(self) -> int:
        """What --trials counts: the explore stage's trainings of searched candidates (references train besides)."""
        return sum(1 for t in self._trainings()
                   if not t.user_attrs.get("reference") and t.user_attrs.get("stage", EXPLORE) == EXPLORE)

    def reference_count(self) -> int:
        settings = self.settings
        return len(reference_points(self.base.name, settings.budget, settings.constraint)) if settings.references else 0

    def max_trainings(self) -> int:
        """The most trainings this run can do: references + searched trials + the confirm stage's seeds."""
        settings, references = self.settings, self.reference_count()
        return references + settings.trials + max_confirm_trainings(references, seeds=settings.seeds, top=settings.confirm)

    def propose(self, max_attempts: int = 60) -> Proposal | Waiting | None:
        """The next training: the explore stage's, then the confirm stage's; ``Waiting`` while the confirm stage
        needs results in flight; None when both stages are done."""
        if not self.explore_done:
            try:
                proposal = self._propose_explore(max_attempts)
            finally:
                # Once per proposal, not per candidate met on the way: the journal holds each as it is decided.
                self.save()
            if proposal is not None:
                return proposal
            self.explore_done = True
        return self._propose_confirm()

    def _propose_explore(self, max_attempts: int) -> Proposal | None:
        """The next candidate to explore, or None when its training budget or the space is exhausted."""
        import optuna

        settings = self.settings
        for _ in range(max_attempts):
            if self.searched_trainings_started() >= settings.trials and not self._enqueued_waiting():
                return None
            if self.grid is not None and self._grid_exhausted():
                return None
            trial = self.study.ask()
            if trial.user_attrs.get("stage") == CONFIRM:  # enqueued by a confirm stage killed before it asked
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            self.proposals += 1
            alpha, beta, gamma, reference, solve = self._coefficients(trial)
            measuring = time.perf_counter()
            candidate = self._evaluate(alpha, beta, gamma, solve, is_reference=bool(reference))
            measure_seconds = time.perf_counter() - measuring  # counting and solving only, not the journal writes
            self._describe(trial, candidate, reference)
            trial.set_user_attr("measure_seconds", measure_seconds)
            architecture = architecture_id(candidate)
            # Optuna's samplers read this (≤ 0 feasible) and learn to avoid infeasible regions,
            # which they cannot do from FAILed trials.
            trial.set_constraint("budget", candidate.violation)
            if not candidate.feasible and not reference:
                trial.set_user_attr("status", TrialStatus.INFEASIBLE)
                trial.set_user_attr("reason", candidate.reason)
                self.study.tell(trial, self._values({"accuracy": 0.0}, candidate.cost.flops))
                continue
            if not candidate.feasible:
                trial.set_user_attr("reason", f"reference trained off budget: {candidate.reason}")
            original = self.trained.get(architecture)
            if original is not None:
                trial.set_user_attr("status", TrialStatus.DUPLICATE)
                trial.set_user_attr("duplicate_of", original)
                trial.set_user_attr("reason", f"same network and resolution as trial {original}")
                self._resolve_duplicate(trial, original)
                continue
            self.trained[architecture] = trial.number
            trial.set_user_attr("status", TrialStatus.RUNNING)
            trial.set_user_attr("started", _now())
            self.live[trial.number] = trial
            return Proposal(trial.number, candidate.spec.to_dict(), settings.seed)
        log.warning("no new candidate after %d proposals: the space may be exhausted", max_attempts)
        return None

    def _enqueued_waiting(self) -> bool:
        """Trials enqueued but not yet asked: the references, and trials in flight at a kill, queued again on resume."""
        import optuna

        return any(t.state == optuna.trial.TrialState.WAITING for t in self.study.get_trials(deepcopy=False))

    def _propose_confirm(self) -> Proposal | Waiting | None:
        settings = self.settings
        if settings.seeds <= 1:
            return None
        table = self.table()
        in_flight = {(t.user_attrs["architecture"], t.user_attrs["seed"]) for t in self.live.values()}
        if any(t.user_attrs.get("stage", EXPLORE) == EXPLORE for t in self.live.values()):
            needed, why = [], "the explore stage's last trainings rank the networks to confirm"
        else:
            needed = plan(table, base_seed=settings.seed, seeds=settings.seeds, top=settings.confirm, in_flight=in_flight)
            if needed is None:
                return None
            why = "a round of seeds is in flight; racing decides after it"
        # While the plan waits on results, a slot trains a reference's later seed, which is needed whatever they say.
        needed = needed or fillers(table, base_seed=settings.seed, seeds=settings.seeds, in_flight=in_flight)
        if not needed:
            return Waiting(why)
        architecture, seed = needed[0]
        return self._start_confirm(architecture, seed)

    def _start_confirm(self, architecture: str, seed: int) -> Proposal:
        original = next(t for t in self.study.get_trials(deepcopy=False)
                        if t.user_attrs.get("architecture") == architecture and t.user_attrs.get("stage", EXPLORE) == EXPLORE
                        and t.user_attrs.get("status") in (TrialStatus.COMPLETE, TrialStatus.PRUNED))
        # Enqueued with no parameters: the sampler draws nothing (GridSampler assigns no grid point to it).
        self.study.enqueue_trial({}, user_attrs={"stage": CONFIRM})
        trial = self.study.ask()
        for key in DESCRIPTION_KEYS:
            if key in original.user_attrs:
                trial.set_user_attr(key, original.user_attrs[key])
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("stage", CONFIRM)
        trial.set_user_attr("confirms", original.number)
        trial.set_user_attr("status", TrialStatus.RUNNING)
        trial.set_user_attr("started", _now())
        self.live[trial.number] = trial
        self.save()
        return Proposal(trial.number, json.loads(original.user_attrs["spec"]), seed)

    def _evaluate(self, alpha: float, beta: float, gamma: float, solve: str, is_reference: bool) -> Candidate:
        settings = self.settings
        common = dict(budget=settings.budget, tolerance=settings.tolerance, num_classes=settings.num_classes)
        if settings.constraint == "measured" and solve == "along":
            return evaluate_along(self.base, self.base_flops, alpha, beta, gamma, **common)
        return evaluate(self.base, self.base_flops, alpha, beta, gamma, constraint=settings.constraint,
                        solve_resolution=settings.constraint == "measured" and solve == "resolution",
                        allow_shrink=settings.allow_shrink,
                        **common)  # references train even off budget

    def _grid_exhausted(self) -> bool:
        visited = {t.params.get("grid_point") for t in self.study.get_trials(deepcopy=False)}
        return len(visited - {None}) >= len(self.grid)

    def _describe(self, trial, candidate: Candidate, reference: str) -> None:
        settings = self.settings
        attrs = {
            "reference": reference, "feasible": bool(candidate.feasible), "alpha": candidate.alpha, "beta": candidate.beta,
            "gamma": candidate.gamma, "formula_product": candidate.formula_product, "flops_ratio": candidate.flops_ratio,
            "width": candidate.spec.width, "depth": candidate.spec.depth, "resolution": candidate.spec.resolution,
            "flops": candidate.cost.flops, "params": candidate.cost.params, "activations": candidate.cost.activations,
            "counter": candidate.cost.counter, "architecture": architecture_id(candidate), "seed": settings.seed, "stage": EXPLORE, "sampler": settings.sampler,
            "constraint": settings.constraint, "budget": settings.budget,
            "spec": json.dumps(candidate.spec.to_dict()),
        }
        for key, value in attrs.items():
            trial.set_user_attr(key, value)

    # ----- results -----------------------------------------------------------------------
    def complete(self, number: int, result: dict, pruned: bool = False) -> None:
        accuracy = result.get("accuracy")
        try:
            finite = math.isfinite(float(accuracy))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            # Optuna would record a NaN as a failure while the table said complete; the proxy raises instead.
            self.fail(number, f"the training returned accuracy {accuracy} (not a number)")
            return
        trial = self.live.pop(number)
        for key in RESULT_KEYS:
            if result.get(key) is not None:
                trial.set_user_attr(key, result[key])
        trial.set_user_attr("status", TrialStatus.PRUNED if pruned else TrialStatus.COMPLETE)
        if pruned:
            trial.set_user_attr("reason", f"stopped early by the scheduler after epoch {result.get('epochs')}")
        trial.set_user_attr("finished", _now())
        self._tell(trial, result, pruned)
        for duplicate in self.waiting.pop(number, []):
            self._copy_result(duplicate, trial.user_attrs)
            self._tell(duplicate, result, pruned)
        sync_journal(self.run_dir / STUDY_FILE)  # a finished training must survive even a power cut
        self.save()

    def fail(self, number: int, message: str) -> None:
        import optuna

        trial = self.live.pop(number)
        trial.set_user_attr("status", TrialStatus.FAILED)
        trial.set_user_attr("reason", message[:500])
        trial.set_user_attr("finished", _now())
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        for duplicate in self.waiting.pop(number, []):
            duplicate.set_user_attr("reason", f"its original, trial {number}, failed")
            self.study.tell(duplicate, state=optuna.trial.TrialState.FAIL)
        sync_journal(self.run_dir / STUDY_FILE)
        self.save()

    def _values(self, result: dict, flops: int) -> list[float]:
        return [result["accuracy"], float(flops)] if self.multi_objective else [result["accuracy"]]

    def _tell(self, trial, result: dict, pruned: bool) -> None:
        import optuna

        if pruned and not self.multi_objective:
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(trial, self._values(result, trial.user_attrs["flops"]))

    def _copy_result(self, trial, attrs: dict) -> None:
        for key in RESULT_KEYS + ("started", "finished"):
            if key in attrs:
                trial.set_user_attr(key, attrs[key])
        trial.set_user_attr("train_seconds", 0.0)  # its original paid for the training; a sum must count it once

    def _resolve_duplicate(self, trial, original: int) -> None:
        frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == original)
        status = frozen.user_attrs.get("status")
        if status in (TrialStatus.COMPLETE, TrialStatus.PRUNED):
            self._copy_result(trial, frozen.user_attrs)
            self._tell(trial, frozen.user_attrs, status == TrialStatus.PRUNED)
        elif status == TrialStatus.FAILED:
            import optuna

            trial.set_user_attr("reason", f"same network as trial {original}, which failed")
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.waiting.setdefault(original, []).append(trial)

    # ----- the tie-break's latency ---------------------------------------------------------
    def latency_alone(self) -> dict[str, float]:
        """Architecture → ms at batch 1, timed after the search with the tied networks alone (cost/latency.py)."""
        return dict(self.study.user_attrs.get(LATENCY_ALONE, {}))

    def record_latency_alone(self, latencies: dict[str, float]) -> None:
        self.study.set_user_attr(LATENCY_ALONE, {str(key): float(value) for key, value in latencies.items()})
        sync_journal(self.run_dir / STUDY_FILE)
        self.save()

    # ----- persistence ------------------------------------------------------------------
    def table(self):
        rows = []
        alone = self.latency_alone()
        for trial in self.study.get_trials(deepcopy=False):
            attrs = trial.user_attrs
            if "status" not in attrs or _interrupted(trial):
                continue
            row = {key: attrs[key] for key in COLUMNS if key in attrs}
            row["trial"] = trial.number
            if attrs.get("architecture") in alone and attrs.get("status") == TrialStatus.COMPLETE:
                row[LATENCY_ALONE] = alone[attrs["architecture"]]
            rows.append(row)
        return make_table(rows)

    def save(self) -> None:
        save_table(self.table(), self.run_dir)
        with atomic_path(self.run_dir / SAMPLER_FILE) as temporary, open(temporary, "wb") as handle:
            pickle.dump(self.study.sampler, handle)

    def _load_sampler(self):
        path = self.run_dir / SAMPLER_FILE
        if not path.exists():
            return None
        try:
            with open(path, "rb") as handle:  # only ever a file this tool wrote in the user's own run folder
                return pickle.load(handle)
        except Exception as error:  # unpickling a damaged file raises nearly any type
            raise InputError(f"{path} is damaged ({type(error).__name__}); delete it and resume again: the sampler "
                             f"restarts from the finished trials, which {STUDY_FILE} keeps") from None

    def _recover(self) -> None:
        """After a crash: finished trials stay; trials that were in flight are queued again."""
        import optuna

        for trial in self.study.get_trials(deepcopy=False):
            attrs = trial.user_attrs
            if trial.state == optuna.trial.TrialState.RUNNING:
                self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)  # now _interrupted(trial)
                if attrs.get("stage") == CONFIRM:
                    continue  # the confirm plan, derived from the table, asks for this seed again
                requeue = {key: attrs[key] for key in ("reference", "ref_alpha", "ref_beta", "ref_gamma", "ref_solve")
                           if "ref_alpha" in attrs}
                self.study.enqueue_trial(trial.params, user_attrs=requeue)
            elif attrs.get("status") in TRAINED:
                self.trained.setdefault(attrs["architecture"], trial.number)
