"""The words a trial and a run are in: one enum each, whose values are the strings the table, the journal and
run.json hold (a run folder written before these enums loads unchanged).

Members are ``str`` (``TrialStatus.COMPLETE == "complete"``), so a pandas column of plain strings compares and
``isin``s with them, and JSON writes them as their values. Not ``enum.StrEnum``: the project still supports
Python 3.10, which lacks it; ``__str__`` and ``__format__`` give the value as StrEnum's do."""
from __future__ import annotations

import enum


class _Words(str, enum.Enum):
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TrialStatus(_Words):
    """A trial's status: the table's ``status`` column and the journal's ``status`` user attribute."""

    COMPLETE = "complete"
    INFEASIBLE = "infeasible"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    PRUNED = "pruned"
    # Trained to a lower rung of --fidelity halving (study/halving.py): its accuracy ranks networks for the next
    # rung, and is never compared with a full-length training's.
    SCREENED = "screened"
    RUNNING = "running"


class TrialStage(_Words):
    """Which stage of the search a trial belongs to: the table's ``stage`` column."""

    EXPLORE = "explore"  # the search: one training per candidate, at the run's --seed, which ranks them
    CONFIRM = "confirm"  # further paired seeds of the top networks and the references: the seeds that judge them


# Trials that trained (or began to): a failed seed is not tried again, it would fail again.
ATTEMPTED = (TrialStatus.COMPLETE, TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.SCREENED)


class RunStatus(_Words):
    """A whole run's status: run.json's ``status`` and ``Outcome.status``."""

    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
