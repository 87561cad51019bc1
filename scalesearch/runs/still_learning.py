"""Was a network still learning when its proxy training ended? A heuristic, and named as one wherever it is said.

The rule (``RULE``): a network is *still rising* when its validation accuracy rose by more than ``RISING`` (0.01, a
point of top-1) over its last epoch, on average over its seeds: each seed's accuracy after the last epoch minus after
the epoch before, averaged. Each seed is compared with itself, so what a seed shares across epochs cancels. Only
completed trainings of two epochs or more count.

Why it says something: the proxy's learning rate decays to 0 over the last epoch (docs/proxy.md), so a network that
still gains a point there would most likely gain more from more epochs, and a short proxy favours networks that learn
fast: the ranking the verdict judges may not be the ranking of a longer training (`scalesearch check` measures that).
Why it is only a heuristic: one epoch's gain is noisy, the threshold is a choice and not a test, and a network that
has stopped rising may still rise again with a longer schedule.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scalesearch.foundation.status import TrialStatus
from scalesearch.runs.learning_curves import LearningCurve

RISING = 0.01
RULE = (f"a network counts as still rising when its validation accuracy rose by more than {RISING:g} in the last "
        "epoch, on average over its seeds")


@dataclass(frozen=True)
class LastEpochGain:
    """A network's gain in validation accuracy over its last epoch."""

    gain: float  # mean over its seeds
    seeds: int  # how many trainings it is the mean of
    last_epoch: int  # the trainings' last epoch (the longest of them)
    accuracy: float  # the mean accuracy after that epoch

    @property
    def rising(self) -> bool:
        return self.gain > RISING


def last_epoch_gain(curves: list[LearningCurve]) -> LastEpochGain | None:
    """The gain of one network's trainings (its seeds), or None where none completed two epochs or more."""
    usable = [curve for curve in curves if curve.status == TrialStatus.COMPLETE and len(curve.epochs) >= 2
              and all(math.isfinite(epoch.accuracy) for epoch in curve.epochs[-2:])]
    if not usable:
        return None
    gains = [curve.epochs[-1].accuracy - curve.epochs[-2].accuracy for curve in usable]
    return LastEpochGain(statistics.fmean(gains), len(usable), max(curve.epochs[-1].epoch for curve in usable),
                         statistics.fmean(curve.epochs[-1].accuracy for curve in usable))
