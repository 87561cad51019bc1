"""The search's state, without Ray: Optuna proposes, candidates are checked before any training, duplicates wait
for their original's result, the confirm stage's seeds follow the explore stage, and results are told back.

What is kept on disk, and how a killed run resumes, is persistence.py's; what a trial's candidate is, candidates.py's.
"""
from __future__ import annotations

import datetime
import json
import logging
import time
from pathlib import Path

from scalesearch.foundation.references import COMPARED
from scalesearch.foundation.status import ATTEMPTED, TrialStatus
from scalesearch.foundation.table import COLUMNS, RESULT_FIELDS
from scalesearch.model.spaces import SearchSpace
from scalesearch.study import corner, halving, persistence
from scalesearch.study.candidates import (
    coefficients,
    describe,
    enqueue_references,
    grid_exhausted,
    grid_summary,
    measure_candidate,
)
from scalesearch.study.auto_seeds import extension
from scalesearch.study.confirm import CONFIRM, EXPLORE, fillers, plan
from scalesearch.study.feasibility import feasible_grid
from scalesearch.study.proposal import Proposal, Waiting, unusable_accuracy
from scalesearch.study.samplers import make_sampler, reference_points
from scalesearch.study.settings import SearchSettings
from scalesearch.study.training_plan import TrainingPlan, training_plan
from scalesearch.verdict.verdict import LATENCY_ALONE, Network

log = logging.getLogger("scalesearch.study.search_study")

# What a confirm trial copies from the explore trial of its network: every column of its row but its results (the
# confirm trial trains its own), its own bookkeeping, and the latency timed alone (the study's, not a trial's
# attribute); and the network itself, which is no column.
_BOOKKEEPING = ("trial", "status", "duplicate_of", "seed", "stage", "rung", "started", "finished", LATENCY_ALONE)
DESCRIPTION_KEYS = tuple(key for key, column in COLUMNS.items()
                         if not column.result and key not in _BOOKKEEPING) + ("spec",)


def _network_name(attrs: dict) -> str:
    """A trial's network as the verdict and the report name it (the verdict's ``Network.name``, its one rule)."""
    return Network(attrs["architecture"], attrs.get("reference") or "", attrs["alpha"], attrs["beta"], attrs["gamma"],
                   bool(attrs.get("feasible")), {}, {}).name


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class SearchStudy:
    def __init__(self, run_dir: Path, base: SearchSpace, base_flops: int, settings: SearchSettings, *, resume: bool = False):
        self.run_dir, self.base, self.base_flops, self.settings = Path(run_dir), base, base_flops, settings
        self.multi_objective = settings.sampler == "nsga2"
        self.grid = feasible_grid(settings.grid, budget=settings.budget, tolerance=settings.tolerance,
                                  constraint=settings.constraint, seed=settings.seed) if settings.sampler == "grid" else None
        sampler = persistence.load_sampler(self.run_dir) if resume else None
        sampler = sampler or make_sampler(settings.sampler, settings.seed, grid_size=len(self.grid or ()), trials=settings.trials)
        self.study = persistence.resumed_study(self.run_dir, sampler) if resume else None
        fresh = self.study is None
        if fresh:
            self.study = persistence.new_study(self.run_dir, sampler,
                                               ["maximize", "minimize"] if self.multi_objective else ["maximize"])
        # architecture → the one trial that trains it (in flight) or trained it
        self.trial_of_architecture: dict[str, int] = {} if fresh else persistence.recover(self.study)
        self.duplicates_pending: dict[int, list] = {}  # original trial in flight → duplicates waiting for its result
        self.live: dict[int, object] = {}  # trial number → optuna.Trial in flight
        self.proposals = 0
        self.explore_done = False
        self.corner_checked = False  # the corner check decided, in this process (it decides the same on a resume)
        if fresh and settings.references:
            enqueue_references(self.study, self.base, settings)
        self.save()

    # ----- proposals -------------------------------------------------------------------
    def grid_summary(self) -> dict | None:
        return grid_summary(self.base, self.settings, self.grid)

    def _trainings(self) -> list:
        return [t for t in self.study.get_trials(deepcopy=False)
                if t.user_attrs.get("status") in (TrialStatus.RUNNING, *ATTEMPTED) and not persistence.interrupted(t)]

    def trainings_started(self) -> int:
        """Every training started, references and confirm seeds included."""
        return len(self._trainings())

    def searched_trainings_started(self) -> int:
        """What --trials counts: the explore stage's trainings of searched candidates (references train besides; a
        network's training at a higher rung of --fidelity halving is not another candidate)."""
        return sum(1 for t in self._trainings()
                   if not t.user_attrs.get("reference") and t.user_attrs.get("stage", EXPLORE) == EXPLORE
                   and t.user_attrs.get("rung_of") is None)

    def reference_count(self, compared_only: bool = False) -> int:
        """The run's references; ``compared_only``: those the confirm stage judges again (``references.COMPARED``)."""
        settings = self.settings
        if not settings.references:
            return 0
        points = reference_points(self.base.name, settings.budget, settings.constraint)
        return sum(1 for point in points if not compared_only or point.label in COMPARED)

    def training_plan(self) -> TrainingPlan:
        """The most trainings this run can do, by what each is for (racing usually trains fewer)."""
        return training_plan(self.settings, self.reference_count(), self.reference_count(compared_only=True))

    def max_trainings(self) -> int:
        return self.training_plan().total

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
        if self.settings.halving:
            promotion = self._propose_promotion()
            if promotion is not None:
                return promotion
        if self.settings.checks_corners and self._check_corner():
            return self.propose(max_attempts)  # the leader's neighbours were enqueued: the explore stage trains them
        return self._propose_confirm()

    def _propose_explore(self, max_attempts: int) -> Proposal | None:
        """The next candidate to explore, or None when its training budget or the space is exhausted."""
        import optuna

        settings = self.settings
        for _ in range(max_attempts):
            if self.searched_trainings_started() >= settings.trials and not self._enqueued_not_asked():
                return None
            if self.grid is not None and grid_exhausted(self.study, self.grid):
                return None
            trial = self.study.ask()
            if trial.user_attrs.get("stage") == CONFIRM or trial.user_attrs.get("rung_of") is not None:
                # enqueued by a confirm stage or a promotion killed before it asked: their plans ask again
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            self.proposals += 1
            alpha, beta, gamma, reference, solve = coefficients(trial, settings, self.grid)
            measuring = time.perf_counter()
            candidate = measure_candidate(self.base, self.base_flops, settings, alpha, beta, gamma, solve)
            measure_seconds = time.perf_counter() - measuring  # counting and solving only, not the journal writes
            describe(trial, candidate, reference, settings)
            trial.set_user_attr("measure_seconds", measure_seconds)
            architecture = candidate.spec.architecture()
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
            original = self.trial_of_architecture.get(architecture)
            if original is not None:
                trial.set_user_attr("status", TrialStatus.DUPLICATE)
                trial.set_user_attr("duplicate_of", original)
                trial.set_user_attr("reason", f"same network and resolution as trial {original}")
                self._resolve_duplicate(trial, original)
                continue
            self.trial_of_architecture[architecture] = trial.number
            trial.set_user_attr("status", TrialStatus.RUNNING)
            trial.set_user_attr("started", _now())
            self.live[trial.number] = trial
            if settings.halving and not reference:  # the references train at full length: the verdict's
                return self._rung_proposal(trial, candidate.spec.to_dict(), architecture, 0)
            return Proposal(trial.number, candidate.spec.to_dict(), settings.seed, name=_network_name(trial.user_attrs))
        log.warning("no new candidate after %d proposals: the space may be exhausted", max_attempts)
        return None

    def _check_corner(self) -> bool:
        """The corner check (study/corner.py), once the explore stage is done: whether a single-dimension leader's
        two neighbours were enqueued for it now. Once a run: a resumed run finds them among its trials. Until the
        explore stage's last trainings are in, nothing is decided, and the confirm stage's fillers (references'
        later seeds, needed whatever leads) keep the slots busy."""
        if self.corner_checked:
            return False
        if any(t.user_attrs.get("neighbour_of") for t in self.study.get_trials(deepcopy=False)):
            self.corner_checked = True  # decided before a resume
            return False
        if any(t.user_attrs.get("stage", EXPLORE) == EXPLORE for t in self.live.values()):
            return False
        self.corner_checked = True
        table = self.table()
        dimension = corner.leading_dimension(table[table["stage"].fillna(EXPLORE) == EXPLORE])
        points = corner.neighbours(self.base, self.base_flops, self.settings, dimension) if dimension else []
        if not points:
            return False
        for depth_share, width_share in points:
            self.study.enqueue_trial({"depth_share": depth_share, "width_share": width_share},
                                     user_attrs={"neighbour_of": dimension})
        self.explore_done = False
        self.save()
        return True

    def _enqueued_not_asked(self) -> bool:
        """Trials enqueued but not yet asked: the references, and trials in flight at a kill, queued again on resume."""
        import optuna

        return any(t.state == optuna.trial.TrialState.WAITING for t in self.study.get_trials(deepcopy=False))

    def _rung_proposal(self, trial, spec: dict, architecture: str, rung: int) -> Proposal:
        trial.set_user_attr("rung", rung)
        seed = self.settings.seed
        # A key of its own: the same network and seed train once per rung (runs/learning_curves.py).
        return Proposal(trial.number, spec, seed, key=f"{architecture}:seed{seed}:rung{rung}",
                        name=_network_name(trial.user_attrs), epochs=self.settings.rungs[rung])

    def _propose_promotion(self) -> Proposal | Waiting | None:
        """--fidelity halving: the next rung's training of a network its rung ranked high (study/halving.py);
        ``Waiting`` while a rung's trainings are in flight; None once every rung is done."""
        settings = self.settings
        table = self.table()
        screens = halving.reference_screens(table, {t.user_attrs["architecture"] for t in self.live.values()
                                                    if t.user_attrs.get("reference") and t.user_attrs.get("rung") == 0})
        if screens:  # a reference at the shortest rung too, for the rank agreement; it may run beside a rung
            original = next(t for t in self.study.get_trials(deepcopy=False)
                            if t.user_attrs.get("architecture") == screens[0] and t.user_attrs.get("reference")
                            and t.user_attrs.get("stage", EXPLORE) == EXPLORE and t.user_attrs.get("rung") is None
                            and "spec" in t.user_attrs)
            return self._start_rung_training(original, screens[0], 0)
        in_flight = {(t.user_attrs["architecture"], int(t.user_attrs["rung"])) for t in self.live.values()
                     if t.user_attrs.get("rung") is not None and not t.user_attrs.get("reference")}
        needed = halving.promotions(table, settings.rungs, settings.reduction, settings.confirm, in_flight)
        if needed is None:
            return None
        if not needed:
            return Waiting("a rung's trainings are in flight; the next rung takes the best of them")
        architecture, rung = needed[0]
        original = next(t for t in self.study.get_trials(deepcopy=False)
                        if t.user_attrs.get("architecture") == architecture and t.user_attrs.get("rung") == rung - 1
                        and t.user_attrs.get("status") in (TrialStatus.SCREENED, TrialStatus.COMPLETE))
        return self._start_rung_training(original, architecture, rung)

    def _start_rung_training(self, original, architecture: str, rung: int) -> Proposal:
        """A new trial that trains ``original``'s network at ``rung`` (its ``rung_of``), in the explore stage."""
        trial = self._train_again(original, self.settings.seed, EXPLORE, "rung_of")
        return self._rung_proposal(trial, json.loads(original.user_attrs["spec"]), architecture, rung)

    def _train_again(self, original, seed: int, stage: str, link: str):
        """A new trial, running, that trains ``original``'s network again with ``seed`` in ``stage``; its ``link``
        attribute names the original. Enqueued with no parameters: the sampler draws nothing (GridSampler assigns no
        grid point to it)."""
        self.study.enqueue_trial({}, user_attrs={"stage": stage, link: original.number})
        trial = self.study.ask()
        for key in DESCRIPTION_KEYS:
            if key in original.user_attrs:
                trial.set_user_attr(key, original.user_attrs[key])
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("stage", stage)
        trial.set_user_attr(link, original.number)
        trial.set_user_attr("status", TrialStatus.RUNNING)
        trial.set_user_attr("started", _now())
        self.live[trial.number] = trial
        self.save()
        return trial

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
            why = "a round of seeds is in flight; racing decides after it"
            if needed is None and settings.max_seeds is not None:
                needed = extension(table, base_seed=settings.seed, seeds=settings.seeds, max_seeds=settings.max_seeds,
                                   tie_break=settings.tie_break, in_flight=in_flight)
                why = "a round of seeds is in flight; the verdict looks after it"
            if needed is None:
                return None
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
        trial = self._train_again(original, seed, CONFIRM, "confirms")
        return Proposal(trial.number, json.loads(original.user_attrs["spec"]), seed, name=_network_name(trial.user_attrs))

    # ----- results -----------------------------------------------------------------------
    def complete(self, number: int, result: dict, pruned: bool = False) -> None:
        problem = unusable_accuracy(result)
        if problem is not None:
            self.fail(number, problem)
            return
        trial = self.live.pop(number)
        for key in RESULT_FIELDS:
            if result.get(key) is not None:
                trial.set_user_attr(key, result[key])
        rung = trial.user_attrs.get("rung")
        screened = rung is not None and rung < len(self.settings.rungs) - 1
        trial.set_user_attr("status", TrialStatus.PRUNED if pruned else TrialStatus.SCREENED if screened
                            else TrialStatus.COMPLETE)
        if pruned:
            trial.set_user_attr("reason", f"stopped early by the scheduler after epoch {result.get('epochs')}")
        trial.set_user_attr("finished", _now())
        self._tell(trial, result, pruned)
        for duplicate in self.duplicates_pending.pop(number, []):
            self._copy_result(duplicate, trial.user_attrs)
            self._tell(duplicate, result, pruned)
        persistence.sync(self.run_dir)  # a finished training must survive even a power cut
        self.save()

    def fail(self, number: int, message: str) -> None:
        import optuna

        trial = self.live.pop(number)
        trial.set_user_attr("status", TrialStatus.FAILED)
        trial.set_user_attr("reason", message[:500])
        trial.set_user_attr("finished", _now())
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        for duplicate in self.duplicates_pending.pop(number, []):
            duplicate.set_user_attr("reason", f"its original, trial {number}, failed")
            self.study.tell(duplicate, state=optuna.trial.TrialState.FAIL)
        persistence.sync(self.run_dir)
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
        for key in RESULT_FIELDS + ("started", "finished"):
            if key in attrs:
                trial.set_user_attr(key, attrs[key])
        trial.set_user_attr("train_seconds", 0.0)  # its original paid for the training; a sum must count it once

    def _resolve_duplicate(self, trial, original: int) -> None:
        frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == original)
        status = frozen.user_attrs.get("status")
        if status in (TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.SCREENED):
            self._copy_result(trial, frozen.user_attrs)
            self._tell(trial, frozen.user_attrs, status == TrialStatus.PRUNED)
        elif status == TrialStatus.FAILED:
            import optuna

            trial.set_user_attr("reason", f"same network as trial {original}, which failed")
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.duplicates_pending.setdefault(original, []).append(trial)

    # ----- what persistence.py keeps ---------------------------------------------------------
    def latency_alone(self) -> dict[str, float]:
        """Architecture → ms at batch 1, timed after the search with the tied networks alone (cost/latency.py)."""
        return persistence.latency_alone(self.study)

    def record_latency_alone(self, latencies: dict[str, float]) -> None:
        persistence.record_latency_alone(self.study, self.run_dir, latencies)
        self.save()

    def table(self):
        return persistence.study_table(self.study)

    def save(self) -> None:
        persistence.save(self.study, self.run_dir)
