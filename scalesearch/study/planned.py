"""A fixed list of trainings, for the stages after the search: the scaling curve (``--curve``) and the fidelity
check (``scalesearch check``). The runner trains them like any trial (pipeline/ray_runner.run_trials asks
``propose`` and tells ``complete``/``fail``).

Every result is written to its own table in the run folder (whole or not at all) the moment it arrives, so a
stopped stage, run again, trains only what is missing. A failed training is not tried again: it would fail again.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from scalesearch.foundation.atomic import atomic_path
from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.table import RESULT_FIELDS, missing
from scalesearch.study.proposal import Proposal, unusable_accuracy


@dataclasses.dataclass(frozen=True)
class Planned:
    """One training: which network (``spec``, a ModelSpec as plain data), which seed, and what the table says of it."""

    key: str  # unique within its stage: a rerun recognises what is done by it
    spec: dict
    seed: int
    labels: dict  # columns of the stage's table besides the results (network, φ, FLOPs, …)
    name: str = ""  # the network as people read it: its learning curve's (runs/learning_curves.py); empty: the key


class PlannedTrainings:
    """The study interface of run_trials over a fixed plan, with results kept in ``path`` (CSV)."""

    def __init__(self, path: Path, plan: list[Planned], done: dict[str, dict] | None = None):
        """``done``: results already at hand (key → result), recorded without a training (the curve's φ = 1
        points are trainings of the search itself)."""
        keys = [planned.key for planned in plan]
        if len(set(keys)) != len(keys):
            raise ValueError("planned trainings must have distinct keys")
        self.path, self.plan = Path(path), list(plan)
        self.rows: dict[str, dict] = {}  # key → its finished row (from an earlier run of the stage, or this one)
        if self.path.exists() and self.path.stat().st_size:
            for row in pd.read_csv(self.path).to_dict("records"):
                if row.get("status") in (TrialStatus.COMPLETE, TrialStatus.FAILED):
                    self.rows[str(row["key"])] = {k: v for k, v in row.items() if not missing(v)}
        self.live: set[int] = set()
        new = {key: result for key, result in (done or {}).items() if key not in self.rows}
        for key, result in new.items():
            self.rows[key] = {"status": str(TrialStatus.COMPLETE), **result}
        if new:
            self._save()

    def pending(self) -> list[Planned]:
        """What is still to train (in flight included)."""
        return [planned for planned in self.plan if planned.key not in self.rows]

    def propose(self) -> Proposal | None:
        for number, planned in enumerate(self.plan):
            if planned.key not in self.rows and number not in self.live:
                self.live.add(number)
                return Proposal(number, planned.spec, planned.seed, key=planned.key, name=planned.name)
        return None

    def complete(self, number: int, result: dict, pruned: bool = False) -> None:
        problem = unusable_accuracy(result)
        if problem is not None:
            self.fail(number, problem)
            return
        values = {key: result[key] for key in RESULT_FIELDS if result.get(key) is not None}
        self._record(number, TrialStatus.COMPLETE, values)

    def fail(self, number: int, message: str) -> None:
        self._record(number, TrialStatus.FAILED, {"reason": message[:300]})

    def max_trainings(self) -> int:
        return len(self.plan)

    def trainings_started(self) -> int:
        return len(self.plan) - len(self.pending()) + len(self.live)

    def table(self) -> pd.DataFrame:
        """The plan in order: finished rows with their results, the rest as planned."""
        rows = []
        for planned in self.plan:
            row = {"key": planned.key, "seed": planned.seed, **planned.labels}
            row.update(self.rows.get(planned.key, {"status": "planned"}))
            rows.append(row)
        return pd.DataFrame(rows)

    def _record(self, number: int, status: TrialStatus, values: dict) -> None:
        self.live.discard(number)
        planned = self.plan[number]
        self.rows[planned.key] = {"status": str(status), **values}
        self._save()

    def _save(self) -> None:
        finished = self.table()
        finished = finished[finished["status"] != "planned"]
        with atomic_path(self.path) as temporary:
            finished.to_csv(temporary, index=False)


def estimated_seconds(pending: list[Planned], table: pd.DataFrame) -> float | None:
    """Training seconds ``pending`` costs at the search's length of training, from the search's measured seconds per
    FLOP (``table``: its results; None when nothing was measured). Each planned training's labels hold its ``flops``."""
    trained = table[(table["status"] == TrialStatus.COMPLETE) & (table["train_seconds"].fillna(0) > 0)]
    if trained.empty:
        return None
    per_flop = float((trained["train_seconds"] / trained["flops"].astype(float)).median())
    return sum(planned.labels["flops"] * per_flop for planned in pending)


def read_planned(path: Path) -> pd.DataFrame | None:
    """A stage's table as written, or None when the stage never ran."""
    if not Path(path).exists() or not Path(path).stat().st_size:
        return None
    return pd.read_csv(path)
