"""The corner check: before a run can say that scaling one dimension alone is best, it tries the compounds next to it.

Where accuracy is smooth in how the budget's growth is split (diminishing returns in each dimension, the paper's own
account), a single-dimension scaling is the best split only if moving some of its growth to another dimension does
not help: the test of a corner is its neighbours. The explore stage's sampler rarely meets them (a dozen candidates
over the whole triangle of splits), and the verdict can only compare what was trained, so a run without them could
call a single dimension the winner over far-off compounds while a compound next to it is truly better
(docs/benchmarks.md §13, the peak worlds). So when the explore stage's best network scales one dimension alone, the
run trains its two neighbours, with ``CORNER_STEP`` of the growth moved to each other dimension, before the confirm
stage ranks the networks to confirm; they then compete for it like any candidate.
"""
from __future__ import annotations

import math

import pandas as pd

from scalesearch.foundation.spending import DIMENSIONS, spending_shares
from scalesearch.study.candidates import measure_candidate
from scalesearch.study.samplers import SHARE_STEP, coefficients_from_shares, shares_from_coefficients
from scalesearch.verdict.verdict import networks, single_dimension

# A quarter of the growth: far enough from the corner that a better compound is a difference a few seeds can see
# (the gain of a move grows with its length while the split's curvature is small), near enough to stay the corner's
# neighbour rather than another region of the triangle. Set once by that argument and not tuned: no other step was
# tried (it was chosen after reading the failures it is meant to fix, benchmarks §13, and before measuring it).
CORNER_STEP = 0.25
NEIGHBOURS = len(DIMENSIONS) - 1  # trainings the check can add to a run


def added_trainings(settings) -> int:
    """The most trainings the check can add to a run under ``settings`` (a SearchSettings)."""
    return NEIGHBOURS if settings.checks_corners else 0


def leading_dimension(table: pd.DataFrame) -> str | None:
    """"depth-only", "width-only" or "resolution-only" where the best network on budget of the explore stage so far
    scales that dimension alone; None otherwise (or with nothing completed)."""
    on_budget = [network for network in networks(table) if network.feasible]
    if not on_budget:
        return None
    leader = max(on_budget, key=lambda network: (network.accuracy.mean, -(network.cost.get("flops") or 0)))
    return single_dimension(leader)


def neighbours(base, base_flops: int, settings, dimension: str) -> list[tuple[float, float]]:
    """The sampler's (depth_share, width_share) of the two neighbours of ``dimension``-only: for each other dimension,
    the network on budget whose measured split is nearest to ``CORNER_STEP`` of the growth moved there. Nearest, not
    exact: depth moves in whole blocks, width in whole channels and resolution in whole pixels, so the split asked for
    is seldom the split built (a quarter asked of a small network's width can round to no compound at all). The
    candidates are the sampler's own share points along that edge, measured as any candidate is; none where no
    compound of the two is on budget."""
    corner = DIMENSIONS.index(dimension.removesuffix("-only"))
    log_budget = math.log(budget := settings.budget)
    points = []
    for other in range(len(DIMENSIONS)):
        if other == corner:
            continue
        target = [0.0] * len(DIMENSIONS)
        target[corner], target[other] = 1.0 - CORNER_STEP, CORNER_STEP
        best, nearest = None, math.inf
        for step in range(1, round(0.5 / SHARE_STEP) + 1):
            shares = [0.0] * len(DIMENSIONS)
            shares[corner], shares[other] = 1.0 - step * SHARE_STEP, step * SHARE_STEP
            depth, width, resolution = (math.exp(share * log_budget / (1 if index == 0 else 2))
                                        for index, share in enumerate(shares))
            point = shares_from_coefficients(depth, width, resolution)
            alpha, beta, gamma = coefficients_from_shares(*point, budget)
            candidate = measure_candidate(base, base_flops, settings, alpha, beta, gamma, "resolution")
            spec = candidate.spec
            built = spending_shares(spec.depth, spec.width, spec.resolution / base.resolution)
            if not candidate.feasible or built is None or sum(share > 0.01 for share in built) < 2:
                continue
            distance = math.dist(built, target)
            if distance < nearest:
                best, nearest = point, distance
        if best is not None:
            points.append(best)
    return points
