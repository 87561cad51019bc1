"""Every training's learning curve, kept in the run folder: learning_curves.csv.

A training reports each epoch's validation accuracy and loss to Ray Tune as it goes (training/proxy.py, "What it
reports" in docs/proxy.md); the runner's searcher collects them and records the whole curve here when the training
ends (pipeline/study_searcher.py), before its result is told to the study. This module owns the records, the file's
format and its reading and writing (docs/design.md §2).

The format, one row per epoch of a training, in this column order:

    stage         search | curve | check: which stage trained it (the explore and confirm stages are one: search)
    training      what the training is within its stage, the same when it is trained again after a kill:
                  ARCHITECTURE:seedK in the search (joins trials.csv on architecture and seed), the key column of
                  curve.csv or check.csv in those stages
    network       the network as the report names it (a reference's label and α, β, γ; in the curve stage with φ)
    architecture  the table's architecture column: the built network and resolution
    seed          the training's seed (paired: seed k is the same data order and initialisation for every network)
    status        complete | pruned | failed: how the training ended (a failed one keeps the epochs before it failed)
    epoch         1, 2, …
    accuracy      validation top-1 after the epoch
    loss          validation cross-entropy (no label smoothing)
    train_loss    mean training loss of the epoch (with label smoothing: what is optimised)
    seconds       the epoch's wall seconds (training plus validation); empty where the objective does not say

Whole or not at all: the file is rewritten through foundation/atomic.py after each training, so a kill leaves the
last whole version. A training cut off by a kill never reached it; trained again on resume, it is recorded once. The
one window, a kill after the curve was written and before the study recorded the result, is closed by the
``training`` key: the training run again replaces its curve instead of adding a second.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from scalesearch.foundation.atomic import write_atomically
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import LEARNING_CURVES_FILE

SEARCH, CURVE, CHECK = "search", "curve", "check"  # the stages that train: run_trials is told which
STAGES = (SEARCH, CURVE, CHECK)
COLUMNS = ("stage", "training", "network", "architecture", "seed", "status", "epoch", "accuracy", "loss", "train_loss",
           "seconds")
_METRICS = ("accuracy", "loss", "train_loss", "seconds")


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch of a training, as it reported it (docs/proxy.md, "What it reports")."""

    epoch: int
    accuracy: float  # validation top-1
    loss: float | None = None  # validation cross-entropy
    train_loss: float | None = None  # mean training loss of the epoch
    seconds: float | None = None  # wall seconds of the epoch

    @classmethod
    def from_report(cls, report: dict) -> "EpochMetrics | None":
        """The epoch a Tune report stands for, or None for a report that is no epoch's (the final one, a failure)."""
        if not report or report.get("final") or "failed" in report:
            return None
        epoch, accuracy = report.get("epoch"), report.get("accuracy")
        if not isinstance(epoch, (int, float)) or epoch < 1 or not isinstance(accuracy, (int, float)):
            return None
        return cls(int(epoch), float(accuracy), *(_reported(report.get(key)) for key in _METRICS[1:]))


@dataclass(frozen=True)
class LearningCurve:
    """One training's epochs, and which training it was."""

    stage: str  # SEARCH | CURVE | CHECK
    training: str  # unique within its stage, and the same for the training run again after a kill
    network: str
    architecture: str
    seed: int
    status: str  # complete | pruned | failed
    epochs: tuple[EpochMetrics, ...]

    @property
    def identity(self) -> tuple[str, str]:
        return self.stage, self.training


class LearningCurves:
    """The run folder's curves, read once and rewritten whole after each training recorded."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LEARNING_CURVES_FILE
        self._curves = {curve.identity: curve for curve in read_learning_curves(run_dir)}

    def curves(self) -> list[LearningCurve]:
        return list(self._curves.values())

    def record(self, curve: LearningCurve) -> None:
        """Adds ``curve``, or replaces the one of the same training (a training recorded, then trained again because
        the kill fell before the study had its result); written before this returns."""
        self._curves.pop(curve.identity, None)  # the replacement goes last: the file stays in the order trained
        self._curves[curve.identity] = curve
        write_atomically(self.path, _to_csv(self._curves.values()))


def read_learning_curves(run_dir: str | Path) -> list[LearningCurve]:
    """The curves in the order recorded; none where the file is absent (a run from before it was kept, or with no
    training finished). A file that is not this format is named in one line (InputError), never replaced."""
    path = Path(run_dir) / LEARNING_CURVES_FILE
    if not path.exists():
        return []
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"{path} is unreadable ({type(error).__name__}); is the file damaged?") from None
    if rows and set(COLUMNS) - set(rows[0]):
        raise InputError(f"{path} lacks columns: {', '.join(sorted(set(COLUMNS) - set(rows[0])))}")
    grouped: dict[tuple[str, str], dict] = {}
    try:
        for row in rows:
            curve = grouped.setdefault((row["stage"], row["training"]), {
                "stage": row["stage"], "training": row["training"], "network": row["network"],
                "architecture": row["architecture"], "seed": int(row["seed"]), "status": row["status"], "epochs": []})
            curve["epochs"].append(EpochMetrics(int(row["epoch"]), float(row["accuracy"]),
                                                *(_number(row[key]) for key in _METRICS[1:])))
    except (TypeError, ValueError) as error:  # a hand-edited file: text where a number belongs
        raise InputError(f"{path} holds a value of the wrong type: {error}") from None
    return [LearningCurve(**{**fields, "epochs": tuple(fields["epochs"])}) for fields in grouped.values()]


def _to_csv(curves) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for curve in curves:
        for epoch in curve.epochs:
            writer.writerow([curve.stage, curve.training, curve.network, curve.architecture, curve.seed, curve.status,
                             epoch.epoch, *("" if value is None else repr(value) for value in
                                            (epoch.accuracy, epoch.loss, epoch.train_loss, epoch.seconds))])
    return out.getvalue()


def _reported(value) -> float | None:
    """A report's figure, or None for one that is missing or no number: a curve is never lost to a stray value."""
    try:
        return _number(value)
    except (TypeError, ValueError):
        return None


def _number(value) -> float | None:
    """A float, or None for a missing or non-finite one (a CSV cell, or a report's value)."""
    if value is None or value == "":
        return None
    number = float(value)
    return number if math.isfinite(number) else None
