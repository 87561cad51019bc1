"""What a study and the runner exchange: the training proposed (``Proposal``) or nothing yet (``Waiting``), and
whether a result told back can be recorded (``unusable_accuracy``). The search and the planned stages share them."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Proposal:
    """A candidate to train: what the Ray trial receives, and what its learning curve is called
    (runs/learning_curves.py)."""

    trial: int
    spec: dict
    seed: int
    # What the training is within its stage, the same when it is trained again after a kill: the planned stages'
    # key; empty for the search, where a network trains once per seed, so its network and seed say it.
    key: str = ""
    name: str = ""  # the network as the report names it; empty: the key
    epochs: int | None = None  # a rung's length (--fidelity halving); None: the run's


@dataclass(frozen=True)
class Waiting:
    """Nothing to train until trainings in flight finish (the confirm stage ranks their results first)."""

    reason: str


def unusable_accuracy(result: dict) -> str | None:
    """Why ``result`` cannot be recorded complete (its accuracy is not a finite number), or None when it can.
    Optuna would record a NaN as a failure while the table said complete; the proxy raises instead."""
    accuracy = result.get("accuracy")
    try:
        finite = math.isfinite(float(accuracy))
    except (TypeError, ValueError):
        finite = False
    return None if finite else f"the training returned accuracy {accuracy} (not a number)"
