"""The searcher's logic, without Ray: a study's proposals out as trial configs, the trials' results, failures and
crashes told back to it. pipeline/ray_runner.py adapts it to Tune's ``Searcher``."""
from __future__ import annotations

from typing import Callable

from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.table import RESULT_FIELDS
from scalesearch.model.scaling import ModelSpec
from scalesearch.pipeline.trial_crash import GENERIC as GENERIC_CRASH
from scalesearch.runs.learning_curves import SEARCH, EpochMetrics, LearningCurve
from scalesearch.study.proposal import Proposal, Waiting, unusable_accuracy

FINISHED = "finished"  # what suggest returns once nothing more will be proposed (Tune's Searcher.FINISHED)
# How often one training is trained again after losing its node: a cluster that keeps losing nodes still ends.
TRAIN_AGAIN_LIMIT = 2


class StudySearcher:
    """Between a study (a ``SearchStudy`` or ``PlannedTrainings``: propose, complete, fail) and the trials that train
    its proposals, each known by the trial's own id. ``epochs``: how long a trial trains when not stopped early.

    ``on_curve`` gets each training's learning curve (runs/learning_curves.py) as it ends, from the epochs it
    reported on the way, before the study is told its result: a kill between the two trains it again, and the
    curve's key replaces the first. ``stage``: the stage the curves are of (SEARCH, CURVE, CHECK)."""

    def __init__(self, study, epochs: int, on_event: Callable[[str, int], None] | None = None,
                 on_curve: Callable[[LearningCurve], None] | None = None, stage: str = SEARCH):
        self.study, self.epochs, self.on_event = study, epochs, on_event
        self.on_curve, self.stage = on_curve, stage
        self.live: dict[str, int] = {}  # trial id → study trial
        self.proposals: dict[str, Proposal] = {}  # trial id → what it trains, until it ends (its curve's name)
        self.reported: dict[str, dict[int, EpochMetrics]] = {}  # trial id → the epochs it reported so far
        self.crashed: dict[str, tuple[int, Proposal | None]] = {}  # trial id → (study trial, proposal), until
        # record_crashes gives the reason or train_again puts it back
        self.again: list[tuple[int, Proposal]] = []  # lost with their node: trained again before anything new
        self.lost: dict[int, int] = {}  # study trial → how often it was lost with its node
        self.failure: Exception | None = None  # the study could not record a result (a full disk): stop

    def suggest(self, trial_id: str) -> dict | str | None:
        """The next trial's config; None while the study waits for trials in flight (ask again once one has
        finished); FINISHED when it proposes nothing more, or could not record a result."""
        self.record_crashes()  # any whose reason never came: the generic reason, before anything else
        if self.failure is not None:
            return FINISHED
        if self.again:  # the study still counts it in flight: it is only handed to another trial
            number, proposal = self.again.pop(0)
        else:
            proposal = self.study.propose()
            if proposal is None:  # nothing new; a trial in flight may still lose its node and need training again
                return None if self.live else FINISHED
            if isinstance(proposal, Waiting):
                return None
            number = proposal.trial
            self._said("started", number)
        self.live[trial_id] = number
        self.proposals[trial_id], self.reported[trial_id] = proposal, {}
        config = {"spec": proposal.spec, "seed": proposal.seed, "trial": number}
        if proposal.epochs is not None:  # a rung of --fidelity halving
            config["epochs"] = proposal.epochs
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """A trial's report on its way: an epoch's is kept for its learning curve."""
        epoch = EpochMetrics.from_report(result)
        if epoch is not None and trial_id in self.reported:
            self.reported[trial_id][epoch.epoch] = epoch

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial ended: with its last report (``result``), or crashed (``error``, or no report), in which case the
        study is told once record_crashes has the reason."""
        number = self.live.pop(trial_id, None)
        if number is None:
            return
        # Tune hands a report that made the scheduler stop the trial to this call only, not to on_trial_result.
        self.on_trial_result(trial_id, result or {})
        proposal, reported = self.proposals.pop(trial_id, None), self.reported.pop(trial_id, {})
        if error or not result:
            self.crashed[trial_id] = (number, proposal)
            try:
                self._record_curve(proposal, reported, TrialStatus.FAILED)
            except Exception as failure:  # as below: stop the search, raise after
                self.failure = self.failure or failure
            return
        try:
            if "failed" in result:
                self._record_curve(proposal, reported, TrialStatus.FAILED)
                self.study.fail(number, result["failed"])
            else:
                # ASHA may stop a trial at its last epoch's report, before the final one: that is complete.
                pruned = not result.get("final") and result.get("epoch", 0) < self.epochs
                screened = proposal is not None and proposal.epochs is not None and proposal.epochs < self.epochs
                status = (TrialStatus.FAILED if unusable_accuracy(result_of(result)) else
                          TrialStatus.PRUNED if pruned else
                          TrialStatus.SCREENED if screened else TrialStatus.COMPLETE)  # as the study will record it
                self._record_curve(proposal, reported, status)
                self.study.complete(number, result_of(result), pruned=pruned)
        except Exception as failure:
            # Raised here, Tune would log its traceback, count the trial failed and search on without its record.
            # The search stops instead; finish raises it once the trials in flight are done.
            self.failure = self.failure or failure
            return
        self._said("finished", number)

    def record_crashes(self, reasons: dict[str, str] | None = None) -> None:
        """Tells the study of the crashed trials: with the reason given for a trial id, else the generic one."""
        for trial_id in list(self.crashed if reasons is None else reasons):
            number, _ = self.crashed.pop(trial_id, (None, None))
            if number is None:
                continue
            try:
                self.study.fail(number, (reasons or {}).get(trial_id) or GENERIC_CRASH)
            except Exception as failure:  # as in on_trial_complete: stop the search, raise after
                self.failure = self.failure or failure
                return
            self._said("finished", number)

    def train_again(self, trial_id: str, reason: str) -> bool:
        """A crashed trial that was lost with its node (pipeline/trial_crash.node_lost): its training goes to the
        next trial, on whichever node has room, up to TRAIN_AGAIN_LIMIT times; after that it is recorded as failed
        with ``reason``. True when it will be trained again."""
        number, proposal = self.crashed.get(trial_id, (None, None))
        if number is None or proposal is None or self.lost.get(number, 0) >= TRAIN_AGAIN_LIMIT:
            self.record_crashes({trial_id: reason})
            return False
        del self.crashed[trial_id]
        self.lost[number] = self.lost.get(number, 0) + 1
        self.again.append((number, proposal))
        self._said("lost", number)
        return True

    def finish(self) -> None:
        """Once no trial is in flight: the crashes still untold get the generic reason, and a failure to record
        is raised."""
        self.record_crashes()
        for number, _ in self.again:  # Tune ended before another trial took it (it ends only when told FINISHED)
            self.study.fail(number, "lost with its Ray node, and the search ended before it was trained again")
        self.again.clear()
        if self.failure is not None:
            raise self.failure

    def _record_curve(self, proposal: Proposal | None, reported: dict[int, EpochMetrics], status: str) -> None:
        """The training's learning curve to ``on_curve``; nothing for a training that reported no epoch."""
        if self.on_curve is None or proposal is None or not reported:
            return
        architecture = ModelSpec.from_dict(proposal.spec).architecture()
        training = proposal.key or f"{architecture}:seed{proposal.seed}"  # Proposal.key: empty means this
        self.on_curve(LearningCurve(self.stage, training, proposal.name or training, architecture, proposal.seed,
                                    str(status), tuple(reported[epoch] for epoch in sorted(reported))))

    def _said(self, kind: str, number: int) -> None:
        if self.on_event:
            self.on_event(kind, number)


def result_of(report: dict) -> dict:
    """A trial's result from its last report: the table's result fields it holds, and the epochs it trained (an
    early stop's report says ``epoch``)."""
    final = {key: report[key] for key in RESULT_FIELDS if key != "epochs" and key in report}
    final["epochs"] = report.get("epochs", report.get("epoch"))
    return final
