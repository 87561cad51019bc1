"""Is a proposed (α, β, γ) on budget? Build its φ=1 network, measure it, and (in measured mode)
solve the resolution that puts its measured FLOPs on the budget."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.measure import Measurement, measure
from scalesearch.scaling import ModelSpec, formula_product, scale
from scalesearch.spaces import SearchSpace

CONSTRAINTS = ("measured", "formula")


@dataclass(frozen=True)
class Candidate:
    alpha: float
    beta: float
    gamma: float  # in measured mode: the effective resolution ratio after solving
    spec: ModelSpec
    cost: Measurement
    flops_ratio: float
    formula_product: float
    feasible: bool
    reason: str  # why not feasible; empty when feasible


def evaluate(
    base: SearchSpace,
    base_flops: int,
    alpha: float,
    beta: float,
    gamma: float,
    *,
    budget: float,
    tolerance: float,
    constraint: str,
    num_classes: int,
    solve_resolution: bool,
) -> Candidate:
    """The φ=1 candidate. With ``solve_resolution`` γ is ignored and replaced by the
    resolution whose measured FLOPs ratio is closest to the budget."""
    if solve_resolution:
        spec, cost = _solve_resolution(base, base_flops, alpha, beta, budget, num_classes)
        gamma = spec.resolution / base.resolution
    else:
        spec = scale(base, beta, alpha, gamma)
        cost = measure(spec, num_classes)
    ratio = cost.flops / base_flops
    product = formula_product(alpha, beta, gamma)
    if constraint == "formula":
        feasible = abs(product - budget) < tolerance
        reason = "" if feasible else f"alpha*beta^2*gamma^2 = {product:.3f} is not within {tolerance:g} of {budget:g}"
    else:
        feasible = abs(ratio - budget) < tolerance
        reason = "" if feasible else f"measured FLOPs ratio {ratio:.2f}x is not within {tolerance:g} of {budget:g}x"
    return Candidate(alpha, beta, gamma, spec, cost, ratio, product, feasible, reason)


def _solve_resolution(base, base_flops, alpha, beta, budget, num_classes):
    """The pixel size whose measured FLOPs are closest to budget × base.

    FLOPs never fall as the input grows, but they jump: every 32 px more adds a row
    and column to the last feature maps (at 32 px, 34 px costs twice as much). So a
    bisection over whole pixels, not a smooth model, finds the closest size."""
    target = budget * base_flops
    floor_pixels, ceiling_pixels = max(8, base.resolution // 2), base.resolution * 3

    def at(size: int):
        spec = scale(base, beta, alpha, pixels=size)
        return spec, measure(spec, num_classes)

    # Bracket around the smooth estimate (FLOPs ∝ pixels²), widening until it holds the target.
    start = at(base.resolution)[1].flops
    guess = min(max(int(round(base.resolution * math.sqrt(target / start))), floor_pixels), ceiling_pixels)
    step = max(1, guess // 16)
    low, high = guess, guess
    while low > floor_pixels and at(low)[1].flops >= target:
        low, step = max(floor_pixels, low - step), step * 2
    step = max(1, guess // 16)
    while high < ceiling_pixels and at(high)[1].flops < target:
        high, step = min(ceiling_pixels, high + step), step * 2
    while high - low > 1:  # invariant: FLOPs(low) < target <= FLOPs(high), unless at the ends
        middle = (low + high) // 2
        if at(middle)[1].flops < target:
            low = middle
        else:
            high = middle
    return min((at(low), at(high)), key=lambda pair: abs(pair[1].flops - target))
