"""Seeds until the answer is resolved (``--seeds auto``): when the verdict looks, how sure each look must be, and when
to stop. Pure functions.

After the confirm stage's fixed seeds, further rounds of paired seeds go to the networks the verdict compares, up to
``--max-seeds``, and the verdict looks at a few of those counts only (``look_points``: 3, 5 and 8 seeds for the
default), each about 1.6 times the last. Looking after every round and stopping at the first interval that excludes 0
would find a difference that is not there far more often than the claims' level (each look is another chance). So
the 2% of ``CLAIM_CONFIDENCE`` (verdict/statistics.py) is spent across the looks (``Looks``): each look tests at its
own share, and by Bonferroni's inequality the chance of any false claim over all of them is at most the sum of the
shares, 2%, whatever the correlation between looks; a claim on the wrong side of a pair, at most half that.

The shares follow O'Brien and Fleming's spending function in Lan and DeMets' form (1983): by a look at a fraction t
of the last look's seeds, 2 − 2Φ(z / √t) of the 2% is spent (z = z₀.₉₉). At 3, 5 and 8 seeds that is 0.015%, 0.31%
and 1.7% at the three looks. Not an equal share each (the rule before it): the first look judges on three seeds, with
2 degrees of freedom, right after the same seeds chose the winner from a dozen networks (the winner's curse). There
the sd of three differences is often small by chance, and the best mean of many is the luckiest. Six of the eight
false or wrong claims in 400 calibration replays came at that look (docs/design.md §4). The first look stops only on
a plain answer; the last, on the most seeds, gets the most of the 2%.

A comparison stops adding seeds when it is decided (its interval at that level excludes 0), or, from the second look
on, when the seeds left could not decide it: the power at ``--max-seeds`` (at the last look's level) to find a true
difference as large as the one seen, with the noise seen, is under ``FUTILITY``. Not at the first look, where three
seeds say too little of the difference to give up on it. Stopping for futility only ever withholds a claim, so it
cannot raise the false-claim rate; it saves the seeds a flat comparison would spend to no end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.verdict.power import power
from scalesearch.verdict.statistics import CLAIM_CONFIDENCE, Estimate

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


@dataclass(frozen=True)
class Looks:
    """The seed counts at which the verdict may stop on a finding, and how sure each look must be. One look (fixed
    seeds, or none given) tests at ``confidence`` itself."""

    points: tuple[int, ...] = ()
    confidence: float = CLAIM_CONFIDENCE

    @property
    def count(self) -> int:
        return max(1, len(self.points))

    def confidence_at(self, n: int) -> float:
        """The level of the look at n seeds (the last look at or below n; below the first, the first's)."""
        if self.count == 1:
            return self.confidence
        index = max([0] + [k for k, point in enumerate(self.points) if point <= n])
        last = self.points[-1]
        before = _spent(self.points[index - 1] / last, self.confidence) if index else 0.0
        return 1.0 - (_spent(self.points[index] / last, self.confidence) - before)

    @property
    def final_confidence(self) -> float:
        return self.confidence_at(self.points[-1]) if self.points else self.confidence


def _spent(fraction: float, confidence: float) -> float:
    """O'Brien–Fleming-type spending (Lan & DeMets 1983): the share of 1 − ``confidence`` spent by a look at
    ``fraction`` of the last look's seeds."""
    from scipy.stats import norm

    z = norm.ppf(1 - (1 - confidence) / 2)
    return float(2 * norm.sf(z / math.sqrt(fraction)))


def looks(seeds: int, max_seeds: int | None) -> Looks:
    """The looks of a run with these seeds: one at ``seeds`` when they are fixed, else one per ``look_points``."""
    points = look_points(seeds, max_seeds)
    return Looks(tuple(points) if len(points) > 1 else ())


def resolved(difference: Estimate | None, max_seeds: int, final_confidence: float, first_look: bool = False) -> bool:
    """Whether a paired comparison needs no more seeds: decided (the interval ``difference`` carries, at its look's
    level, excludes 0), or, after the first look, futile by ``max_seeds``: too little power there, at the last look's
    level ``final_confidence``."""
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
    return power(abs(difference.mean), difference.sd, max_seeds, final_confidence) < FUTILITY
