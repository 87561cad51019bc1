"""Is a proposed (α, β, γ) on budget? Build its φ=1 network's spec, count its cost by arithmetic, and (in measured
mode) solve the resolution that puts its measured FLOPs on the budget."""
from __future__ import annotations

import random
from dataclasses import dataclass

from scalesearch.foundation.errors import InputError

from scalesearch.cost.measure import Measurement, measure
from scalesearch.model.scaling import ModelSpec, formula_product, scale
from scalesearch.study.samplers import GridSpec, formula_feasible, grid_depth_width_points, grid_points
from scalesearch.model.spaces import SearchSpace

@dataclass(frozen=True)
class Candidate:
    alpha: float
    beta: float
    gamma: float  # in measured mode: the effective resolution ratio after solving
    spec: ModelSpec
    cost: Measurement
    flops_ratio: float
    formula_product: float
    violation: float  # distance from the budget beyond the tolerance; < 0 when feasible (Optuna's constraint)
    reason: str  # why not feasible; empty when feasible

    @property
    def feasible(self) -> bool:
        return self.violation < 0


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
    allow_shrink: bool = False,
) -> Candidate:
    """The φ=1 candidate. With ``solve_resolution`` γ is ignored and replaced by the
    resolution whose measured FLOPs ratio is closest to the budget.

    Counted by arithmetic (fvcore's count, pinned equal by tests), never traced: tracing was most of a cold run's
    measuring time. A network with layers the arithmetic does not know is traced by fvcore instead, and an export
    traces the winner once to check the count."""
    if solve_resolution:
        smallest = base.resolution // 2 if allow_shrink else base.resolution
        spec = _solve_resolution(base, base_flops, alpha, beta, budget, num_classes, smallest)
        gamma = spec.resolution / base.resolution
    else:
        spec = scale(base, width=beta, depth=alpha, resolution_ratio=gamma)
    product = formula_product(alpha, beta, gamma)
    cost = measure(spec, num_classes, "arithmetic")
    if constraint == "formula":
        violation = abs(product - budget) - tolerance
        reason = f"alpha*beta^2*gamma^2 = {product:.3f} is not within {tolerance:g} of {budget:g}"
    else:
        violation = abs(cost.flops / base_flops - budget) - tolerance
        reason = f"measured FLOPs ratio {cost.flops / base_flops:.2f}x is not within {tolerance:g} of {budget:g}x"
        if solve_resolution and not allow_shrink and violation >= 0 and cost.flops > budget * base_flops:
            reason += " even at gamma = 1: only a smaller input could pay for this depth and width (--allow-shrink)"
    if min(alpha, beta, gamma) < 1 - 1e-9 and not allow_shrink:  # the paper's rule: no dimension shrinks
        violation = max(violation, 1.0 - min(alpha, beta, gamma))
        reason = f"a coefficient below 1 (alpha={alpha:.3f} beta={beta:.3f} gamma={gamma:.3f}) shrinks a dimension"
    return Candidate(alpha, beta, gamma, spec, cost, cost.flops / base_flops, product, violation,
                     reason if violation >= 0 else "")


def evaluate_along(
    base: SearchSpace, base_flops: int, alpha: float, beta: float, gamma: float, *, budget: float, tolerance: float,
    num_classes: int,
) -> Candidate:
    """The network in the direction of (α, β, γ) whose measured FLOPs are closest to the budget:
    (α^t, β^t, γ^t) for the best t. A reference keeps its meaning this way: depth-only stays
    depth-only (solving γ instead would give a proxy's width-only reference a smaller input)."""
    target = budget * base_flops

    def network(t: float) -> ModelSpec:
        return scale(base, width=beta**t, depth=alpha**t, resolution_ratio=gamma**t)

    def flops_at(t: float) -> int:
        return measure(network(t), num_classes, "arithmetic").flops

    low, high = 0.0, 1.0
    while flops_at(high) < target and high < 64:  # FLOPs never fall as t grows
        low, high = high, high * 2
    for _ in range(40):
        middle = (low + high) / 2
        if flops_at(middle) < target:
            low = middle
        else:
            high = middle
    spec = min((network(low), network(high)), key=lambda s: abs(measure(s, num_classes, "arithmetic").flops - target))
    # Judged and counted like any candidate (a reference trains even off budget).
    return evaluate(base, base_flops, spec.depth, spec.width, spec.resolution / base.resolution, budget=budget,
                    tolerance=tolerance, constraint="measured", num_classes=num_classes, solve_resolution=False)


def _solve_resolution(base, base_flops, alpha, beta, budget, num_classes, smallest):
    """The network at the pixel size (≥ ``smallest``) whose FLOPs are closest to budget × base.

    FLOPs never fall as the input grows, but they jump: every 32 px more adds a row
    and column to the last feature maps (at 32 px, 33 px costs twice as much). So a
    bisection over whole pixels, on fvcore's count done by arithmetic, finds the size."""
    target = budget * base_flops
    low, high = max(8, smallest), max(base.resolution * 3, smallest + 1)

    def flops_at(size: int) -> int:
        return measure(scale(base, width=beta, depth=alpha, pixels=size), num_classes, "arithmetic").flops

    while high - low > 1:  # invariant: FLOPs(low) < target <= FLOPs(high), unless at the ends
        middle = (low + high) // 2
        if flops_at(middle) < target:
            low = middle
        else:
            high = middle
    best = min((low, high), key=lambda size: abs(flops_at(size) - target))
    return scale(base, width=beta, depth=alpha, pixels=best)


def feasible_grid(grid: GridSpec, *, budget: float, tolerance: float, constraint: str, seed: int) -> list[tuple]:
    """The grid points a grid search may train, in a seeded random order (GridSampler walks indices in order).

    Formula mode: the (α, β, γ) with |α·β²·γ² − budget| < tolerance. Measured mode: the (α, β) pairs whose
    depth and width alone stay within budget + tolerance (γ = None: solved per pair, never below 1).
    The one owner of this rule: the study walks it, the report draws it, a run checks it before it starts."""
    if constraint == "formula":
        points = [point for point in grid_points(grid) if formula_feasible(*point, budget, tolerance)]
    else:
        points = [(alpha, beta, None) for alpha, beta in grid_depth_width_points(grid)
                  if alpha * beta**2 <= budget + tolerance]
    if not points:
        if constraint == "formula":
            nearest = min(abs(formula_product(*point) - budget) for point in grid_points(grid))
        else:
            nearest = min(alpha * beta**2 - budget for alpha, beta in grid_depth_width_points(grid))
        raise InputError(f"no grid point is within tolerance {tolerance:g} of the {budget:g}x budget; "
                         f"the nearest needs --tolerance {nearest + 0.0005:.3f} (or change --grid-step)")
    random.Random(seed).shuffle(points)
    return points


def refuse_an_unmeetable_grid(grid: GridSpec, base: SearchSpace, base_flops: int, *, budget: float, tolerance: float,
                              num_classes: int, allow_shrink: bool = False) -> None:
    """Measured mode, before any training: is any grid point on budget once measured? Each (α, β) is judged as the
    study will judge it (its resolution solved in whole pixels, counted by arithmetic: about a millisecond a point),
    and a grid with none is refused in one line naming the smallest tolerance that admits one.

    Before this check such a run trained its references and their confirm seeds first and only then failed: the
    check before measuring (``feasible_grid``) sees α·β² alone, and after pixel rounding no point may come within a
    tiny tolerance."""
    admitted = [(alpha, beta) for alpha, beta, _ in _admitted_pairs(grid, budget, tolerance)]
    judge = dict(budget=budget, tolerance=tolerance, constraint="measured", num_classes=num_classes,
                 solve_resolution=True, allow_shrink=allow_shrink)
    if any(evaluate(base, base_flops, alpha, beta, 1.0, **judge).feasible for alpha, beta in admitted):
        return  # at the first on budget: most grids have one among their first points
    best = None  # (the tolerance that admits it, distance, α, β, pixels)
    for alpha, beta in grid_depth_width_points(grid):  # the grid a larger tolerance lets through, too
        candidate = evaluate(base, base_flops, alpha, beta, 1.0, **judge)
        if min(alpha, beta, candidate.gamma) < 1 - 1e-9 and not allow_shrink:
            continue  # shrinks a dimension: on budget at no tolerance
        distance = abs(candidate.flops_ratio - budget)
        needed = _just_above(max(distance, alpha * beta**2 - budget))  # strictly within it, and through feasible_grid
        if best is None or needed < best[0]:
            best = (needed, distance, alpha, beta, candidate.spec.resolution)
    said = f"no grid point measures within tolerance {tolerance:g} of the {budget:g}x budget once its resolution is " \
           f"solved in whole pixels"
    if best is None or best[0] >= budget - 1:  # --tolerance must stay below budget - 1
        raise InputError(f"{said}, at any tolerance below {budget - 1:g}; change --grid-step or the grid's ranges")
    needed, distance, alpha, beta, pixels = best
    raise InputError(f"{said} (the nearest: alpha={alpha:g} beta={beta:g} at {pixels} px, {distance:.4g}x off the "
                     f"budget); the smallest tolerance that works is --tolerance {needed:g} (or change --grid-step)")


def _admitted_pairs(grid: GridSpec, budget: float, tolerance: float) -> list[tuple]:
    """feasible_grid's measured-mode points, or none where it would refuse the grid."""
    try:
        return feasible_grid(grid, budget=budget, tolerance=tolerance, constraint="measured", seed=0)
    except InputError:
        return []


def _just_above(value: float, digits: int = 2) -> float:
    """The smallest number of ``digits`` significant digits strictly above ``value`` (> 0), as a user types it."""
    import math

    value = max(value, 1e-12)
    step = 10 ** (math.floor(math.log10(value)) - digits + 1)
    above = float(f"{math.floor(value / step + 1) * step:.{digits}g}")
    while above <= value:  # float rounding in the division
        above = float(f"{above + step:.{digits}g}")
    return above
