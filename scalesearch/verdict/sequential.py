"""Seeds until the answer is resolved (``--seeds auto``): when the verdict looks, how sure each look must be, and when
to stop. Pure functions.

After the confirm stage's fixed seeds, further rounds of paired seeds go to the networks the verdict compares, up to
``--max-seeds``, and the verdict looks at a few of those counts only (``look_points``: 3, 5 and 8 seeds for the
default), each about 1.6 times the last. Looking after every round and stopping at the first interval that excludes 0
would find a difference that is not there far more often than 5% (each look is another chance). So every look, the
last one included, tests at 1 − 0.05/L, L the number of looks: by Bonferroni's inequality the chance of any false
claim over all of them is at most 5%, whatever the correlation between looks. Conservative (a Pocock boundary would
allow a little more), and exact in what it promises. Few looks keep it from costing much power: a true difference of
2 paired sds is found at 8 seeds with 98% power at 1 − 0.05/3, 94% at 1 − 0.05/6.

A comparison stops adding seeds when it is decided (its interval at that level excludes 0), or, from the second look
on, when the seeds left could not decide it: the power at ``--max-seeds`` to find a true difference as large as the
one seen, with the noise seen, is under ``FUTILITY``. Not at the first look, where three seeds say too little of the
difference to give up on it. Stopping for futility only ever withholds a claim, so it cannot raise the false-claim
rate; it saves the seeds a flat comparison would spend to no end.
"""
from __future__ import annotations

import math

from scalesearch.verdict.power import power
from scalesearch.verdict.statistics import CONFIDENCE, Estimate

AUTO = "auto"
AUTO_FIRST_SEEDS = 3  # the fixed seeds of the confirm stage before the first look
DEFAULT_MAX_SEEDS = 8
FUTILITY = 0.2  # below this power at --max-seeds, more seeds are not spent on a comparison


GROWTH = 1.6  # each look at about this many times the seeds of the last


def look_points(seeds: int, max_seeds: int | None) -> list[int]:
    """The seed counts at which the verdict looks: ``seeds`` alone when they are fixed (``max_seeds`` None); with auto,
    from ``seeds`` up to ``max_seeds``, each about GROWTH times the last (3, 5, 8)."""
    points = [seeds]
    while max_seeds is not None and points[-1] < max_seeds:
        points.append(min(max_seeds, max(points[-1] + 1, round(points[-1] * GROWTH))))
    return points


def looks(seeds: int, max_seeds: int | None) -> int:
    """How many times the verdict may stop on a finding."""
    return len(look_points(seeds, max_seeds))


def corrected_confidence(number_of_looks: int, confidence: float = CONFIDENCE) -> float:
    """The confidence each look tests at so that all of them together claim a false difference at most 1 − confidence
    of the time (Bonferroni)."""
    return 1 - (1 - confidence) / number_of_looks


def resolved(difference: Estimate | None, max_seeds: int, confidence: float, first_look: bool = False) -> bool:
    """Whether a paired comparison needs no more seeds: decided at ``confidence`` (the interval ``difference`` carries),
    or, after the first look, futile by ``max_seeds``."""
    if difference is None or difference.n >= max_seeds:
        return True
    if difference.n < 2 or not math.isfinite(difference.sd):
        return False
    if difference.low > 0 or difference.high < 0:
        return True
    if first_look:
        return False
    if difference.sd == 0:
        return difference.mean == 0  # no noise and no difference: nothing for more seeds to find
    return power(abs(difference.mean), difference.sd, max_seeds, confidence) < FUTILITY
