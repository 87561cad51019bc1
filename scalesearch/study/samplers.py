"""Proposals of (α, β, γ): Optuna samplers by name, the paper's grid, and the reference points.

Continuous samplers search two *shares* in the unit square instead of α, β, γ:
they split the log-budget between depth, width and resolution, so every point of
the square is a feasible (α, β, γ ≥ 1) on the constraint surface α·β²·γ² = budget,
and every such point is reachable. Sampling α, β, γ
freely and filtering wastes most proposals (docs/design.md §3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.references import DEPTH_ONLY, FAST_COMPOUND, PAPER, PAPER_LITERAL, RESOLUTION_ONLY, WIDTH_ONLY
from scalesearch.model.scaling import PAPER_COEFFICIENTS, fast_compound_coefficients, formula_product

SAMPLERS = ("grid", "tpe", "gp", "nsga2", "random")


@dataclass(frozen=True)
class GridSpec:
    """The NNI EfficientNet example's grid: α in [1, 2], β and γ in [1, 1.5] on a 0.05 step."""

    alpha_range: tuple[float, float] = (1.0, 2.0)
    beta_range: tuple[float, float] = (1.0, 1.5)
    gamma_range: tuple[float, float] = (1.0, 1.5)
    step: float = 0.05


def _axis(bounds: tuple[float, float], step: float) -> list[float]:
    low, high = bounds
    if step <= 0 or high < low:
        raise InputError(f"grid range {low}..{high} with step {step} is empty")
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    return [round(low + index * step, 10) for index in range(count)]


def grid_points(grid: GridSpec) -> list[tuple[float, float, float]]:
    """Every (α, β, γ) of the grid (2,541 for the default)."""
    return [
        (alpha, beta, gamma)
        for alpha in _axis(grid.alpha_range, grid.step)
        for beta in _axis(grid.beta_range, grid.step)
        for gamma in _axis(grid.gamma_range, grid.step)
    ]


def formula_feasible(alpha: float, beta: float, gamma: float, budget: float, tolerance: float) -> bool:
    """|α·β²·γ² − budget| < tolerance, in units of the multiplier (NNI: strictly within 0.1 of 2)."""
    return abs(formula_product(alpha, beta, gamma) - budget) < tolerance


def grid_depth_width_points(grid: GridSpec) -> list[tuple[float, float]]:
    """The measured-mode grid: (α, β) only; the resolution is solved for each."""
    return [(alpha, beta) for alpha in _axis(grid.alpha_range, grid.step) for beta in _axis(grid.beta_range, grid.step)]


# The shares move in steps of 1/50 (as the NNI grid moves α in steps of 0.05), so that a sampler can
# land exactly on the triangle's edges: depth_share = 1 is α = 1, the only depth without extra blocks
# (repeats round up, so every α > 1 adds a block to each stage); a continuous draw never hits it.
SHARE_STEP = 0.02


def suggest_shares(trial) -> tuple[float, float]:
    return (trial.suggest_float("depth_share", 0.0, 1.0, step=SHARE_STEP),
            trial.suggest_float("width_share", 0.0, 1.0, step=SHARE_STEP))


def coefficients_from_shares(depth_share: float, width_share: float, budget: float) -> tuple[float, float, float]:
    """Maps the unit square uniformly onto the triangle of how log(budget) is split between
    depth (log α), width (2 log β) and resolution (2 log γ), so a uniform proposal favours
    no dimension. ``depth_share`` = u₁ and ``width_share`` = u₂ of that map, not fractions."""
    log_budget = math.log(budget)
    rest = math.sqrt(depth_share)
    fractions = (1.0 - rest, rest * width_share, rest * (1.0 - width_share))
    log_alpha, log_beta_squared, log_gamma_squared = (fraction * log_budget for fraction in fractions)
    return math.exp(log_alpha), math.exp(log_beta_squared / 2), math.exp(log_gamma_squared / 2)


def shares_from_coefficients(alpha: float, beta: float, gamma: float) -> tuple[float, float]:
    """The inverse on the share steps, for enqueuing a known point (α·β²·γ² is taken as its own budget)."""
    total = math.log(formula_product(alpha, beta, gamma))
    if total <= 0:
        return 1.0, 0.0
    rest = 1.0 - math.log(alpha) / total
    width_share = 2 * math.log(beta) / total / rest if rest > 0 else 0.0
    return tuple(round(min(1.0, max(0.0, share)) / SHARE_STEP) * SHARE_STEP for share in (rest**2, width_share))


@dataclass(frozen=True)
class Reference:
    label: str
    alpha: float
    beta: float
    gamma: float
    # In measured mode: "resolution" solves γ like every candidate; "along" scales this direction
    # to the budget (depth-only stays depth-only); "none" trains it as given, whatever it costs.
    solve: str = "resolution"


def reference_points(space_name: str, budget: float, constraint: str) -> list[Reference]:
    """The paper's point for EfficientNet-B0 at 2x, fast compound scaling (dWr: the strongest rule that needs no
    search) and the single-dimension scalings, at the same budget. dWr and the single dimensions keep their direction
    in measured mode: scaled along it until the measured FLOPs meet the budget."""
    references = []
    if space_name == "efficientnet_b0" and abs(budget - 2.0) < 1e-9:
        references.append(Reference(PAPER, *PAPER_COEFFICIENTS))
        if constraint == "measured":
            references.append(Reference(PAPER_LITERAL, *PAPER_COEFFICIENTS, solve="none"))
    references.append(Reference(FAST_COMPOUND, *fast_compound_coefficients(budget), solve="along"))
    references += [
        Reference(DEPTH_ONLY, budget, 1.0, 1.0, solve="along"),
        Reference(WIDTH_ONLY, 1.0, math.sqrt(budget), 1.0, solve="along"),
        Reference(RESOLUTION_ONLY, 1.0, 1.0, math.sqrt(budget), solve="along"),
    ]
    return references


def make_sampler(name: str, seed: int, *, grid_size: int = 0, trials: int = 20):
    """A real Optuna sampler. ``grid`` walks the indices of the feasible grid points in a seeded order."""
    import optuna

    startup = min(10, max(3, trials // 4))  # few trials on a CPU: let the model start early
    if name == "grid":
        if grid_size < 1:
            raise InputError("the grid has no feasible point")
        from scalesearch.study.grid_walk import GridWalk

        return GridWalk({"grid_point": list(range(grid_size))}, seed=seed)
    if name == "tpe":
        # multivariate models α and β jointly; constant_liar keeps parallel trials apart.
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True, n_startup_trials=startup)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(20, trials // 3)))
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise InputError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
