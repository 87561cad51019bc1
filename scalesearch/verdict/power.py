"""What a verdict could have seen: the seed noise of a paired difference, and the smallest difference the verdict's
test finds with a given power at n seeds. Pure functions.

The noise is estimated from every network trained on the same seeds at once, not from one comparison: accuracy of
network i at seed k is modelled as network effect + seed effect + noise (the two-way additive model, as in a
randomised block design: seed k is a block, since it picks the data subset, order and initialisation for every
network alike). The noise's sd, sigma, has (networks − 1)(seeds − 1) degrees of freedom, and a paired difference of
two networks has sd sigma·sqrt(2).

The test is the verdict's: a two-sided paired t-test at ``confidence`` with n − 1 degrees of freedom. Its power at a
true difference delta is P(|T| > t_crit) for T noncentral t with noncentrality delta·sqrt(n)/sd (exact, scipy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.verdict.statistics import CONFIDENCE, t_quantile

POWER = 0.8  # the power a "could have seen" sentence assumes (Cohen's convention)


@dataclass(frozen=True)
class PairedNoise:
    """The sd of a paired difference of two networks over seeds, and what it was estimated from."""

    sd: float
    networks: int  # networks in the block it was estimated from
    seeds: int  # seeds they share
    degrees_of_freedom: int


def paired_noise(samples: dict[str, dict[int, float]]) -> PairedNoise | None:
    """From the largest block of networks that share the same seeds (two networks and two seeds at least); None
    without one."""
    by_seeds: dict[frozenset, list[str]] = {}
    for name, seeds in samples.items():
        if len(seeds) >= 2:
            by_seeds.setdefault(frozenset(seeds), []).append(name)
    blocks = [(seeds, names) for seeds, names in by_seeds.items() if len(names) >= 2]
    if not blocks:
        return None
    seeds, names = max(blocks, key=lambda block: ((len(block[0]) - 1) * (len(block[1]) - 1), len(block[0])))
    order = sorted(seeds)
    values = [[samples[name][seed] for seed in order] for name in names]
    rows, columns = len(values), len(order)
    grand = math.fsum(map(math.fsum, values)) / (rows * columns)
    row_means = [math.fsum(row) / columns for row in values]
    column_means = [math.fsum(values[i][j] for i in range(rows)) / rows for j in range(columns)]
    residual = math.fsum((values[i][j] - row_means[i] - column_means[j] + grand) ** 2
                         for i in range(rows) for j in range(columns))
    degrees = (rows - 1) * (columns - 1)
    return PairedNoise(math.sqrt(2 * residual / degrees), rows, columns, degrees)


def power(difference: float, sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    """The chance that the paired t-test at ``confidence`` over n seeds finds a true ``difference`` (two-sided)."""
    if n < 2 or sd <= 0:
        return math.nan
    from scipy.stats import nct

    critical = t_quantile(n - 1, confidence)
    shift = difference * math.sqrt(n) / sd
    value = float(nct.sf(critical, n - 1, shift) + nct.cdf(-critical, n - 1, shift))
    if not math.isfinite(value):  # scipy's noncentral t gives NaN far in its tails: the test is then all but certain
        return 1.0 if abs(shift) > critical else 0.0
    return min(1.0, value)


def minimum_detectable_difference(sd: float, n: int, target: float = POWER, confidence: float = CONFIDENCE) -> float:
    """The smallest true difference the paired t-test over n seeds finds with power ``target``; inf below 2 seeds."""
    if n < 2 or not sd > 0:
        return math.inf
    from scipy.optimize import brentq

    high = sd
    while power(high, sd, n, confidence) < target:
        high *= 2
    return float(brentq(lambda difference: power(difference, sd, n, confidence) - target, 0.0, high, xtol=1e-9))
