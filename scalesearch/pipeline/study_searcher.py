"""The searcher's logic, without Ray: a study's proposals out as trial configs, the trials' results, failures and
crashes told back to it. pipeline/ray_runner.py adapts it to Tune's ``Searcher``."""
from __future__ import annotations

from typing import Callable

from scalesearch.foundation.table import RESULT_FIELDS
from scalesearch.pipeline.trial_crash import GENERIC as GENERIC_CRASH
from scalesearch.study.proposal import Waiting

FINISHED = "finished"  # what suggest returns once nothing more will be proposed (Tune's Searcher.FINISHED)


class StudySearcher:
    """Between a study (a ``SearchStudy`` or ``PlannedTrainings``: propose, complete, fail) and the trials that train
    its proposals, each known by the trial's own id. ``epochs``: how long a trial trains when not stopped early."""

    def __init__(self, study, epochs: int, on_event: Callable[[str, int], None] | None = None):
        self.study, self.epochs, self.on_event = study, epochs, on_event
        self.live: dict[str, int] = {}  # trial id → study trial
        self.crashed: dict[str, int] = {}  # trial id → study trial, until record_crashes gives the reason
        self.failure: Exception | None = None  # the study could not record a result (a full disk): stop

    def suggest(self, trial_id: str) -> dict | str | None:
        """The next trial's config; None while the study waits for trials in flight (ask again once one has
        finished); FINISHED when it proposes nothing more, or could not record a result."""
        self.record_crashes()  # any whose reason never came: the generic reason, before anything else
        if self.failure is not None:
            return FINISHED
        proposal = self.study.propose()
        if proposal is None:
            return FINISHED
        if isinstance(proposal, Waiting):
            return None
        self.live[trial_id] = proposal.trial
        self._said("started", proposal.trial)
        return {"spec": proposal.spec, "seed": proposal.seed, "trial": proposal.trial}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """A trial ended: with its last report (``result``), or crashed (``error``, or no report), in which case the
        study is told once record_crashes has the reason."""
        number = self.live.pop(trial_id, None)
        if number is None:
            return
        if error or not result:
            self.crashed[trial_id] = number
            return
        try:
            if "failed" in result:
                self.study.fail(number, result["failed"])
            else:
                # ASHA may stop a trial at its last epoch's report, before the final one: that is complete.
                pruned = not result.get("final") and result.get("epoch", 0) < self.epochs
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
            number = self.crashed.pop(trial_id, None)
            if number is None:
                continue
            try:
                self.study.fail(number, (reasons or {}).get(trial_id) or GENERIC_CRASH)
            except Exception as failure:  # as in on_trial_complete: stop the search, raise after
                self.failure = self.failure or failure
                return
            self._said("finished", number)

    def finish(self) -> None:
        """Once no trial is in flight: the crashes still untold get the generic reason, and a failure to record
        is raised."""
        self.record_crashes()
        if self.failure is not None:
            raise self.failure

    def _said(self, kind: str, number: int) -> None:
        if self.on_event:
            self.on_event(kind, number)


def result_of(report: dict) -> dict:
    """A trial's result from its last report: the table's result fields it holds, and the epochs it trained (an
    early stop's report says ``epoch``)."""
    final = {key: report[key] for key in RESULT_FIELDS if key != "epochs" and key in report}
    final["epochs"] = report.get("epochs", report.get("epoch"))
    return final
