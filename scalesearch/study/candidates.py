"""The explore stage's candidates as Optuna trials: the references enqueued, the (α, β, γ) a trial stands for (a
reference, a grid point or the sampler's shares), the candidate measured from it, and its description in the
trial's attributes (the table's columns)."""
from __future__ import annotations

import json

from scalesearch.model.scaling import scale
from scalesearch.model.spaces import SearchSpace
from scalesearch.study.confirm import EXPLORE
from scalesearch.study.feasibility import Candidate, evaluate, evaluate_along
from scalesearch.study.samplers import (
    coefficients_from_shares,
    grid_depth_width_points,
    grid_points,
    reference_points,
    shares_from_coefficients,
    suggest_shares,
)
from scalesearch.study.settings import SearchSettings


def enqueue_references(study, base: SearchSpace, settings: SearchSettings) -> None:
    for reference in reference_points(base.name, settings.budget, settings.constraint):
        params = {}
        if settings.sampler != "grid":
            depth_share, width_share = shares_from_coefficients(reference.alpha, reference.beta, reference.gamma)
            params = {"depth_share": depth_share, "width_share": width_share}
        study.enqueue_trial(params, user_attrs={
            "reference": reference.label, "ref_alpha": reference.alpha, "ref_beta": reference.beta,
            "ref_gamma": reference.gamma, "ref_solve": reference.solve,
        })


def coefficients(trial, settings: SearchSettings, grid: list[tuple] | None) -> tuple[float, float, float, str, str]:
    """(α, β, γ, reference label, how to solve it: see samplers.Reference)."""
    attrs = trial.user_attrs
    if "ref_alpha" in attrs:
        if settings.sampler != "grid":  # keep the sampler's view of this trial consistent
            suggest_shares(trial)
        return attrs["ref_alpha"], attrs["ref_beta"], attrs["ref_gamma"], attrs["reference"], attrs["ref_solve"]
    if grid is not None:
        alpha, beta, gamma = grid[trial.suggest_categorical("grid_point", list(range(len(grid))))]
        return alpha, beta, gamma if gamma is not None else 1.0, "", "resolution"
    depth_share, width_share = suggest_shares(trial)
    return (*coefficients_from_shares(depth_share, width_share, settings.budget), "", "resolution")


def measure_candidate(base: SearchSpace, base_flops: int, settings: SearchSettings,
                      alpha: float, beta: float, gamma: float, solve: str) -> Candidate:
    common = dict(budget=settings.budget, tolerance=settings.tolerance, num_classes=settings.num_classes)
    if settings.constraint == "measured" and solve == "along":
        return evaluate_along(base, base_flops, alpha, beta, gamma, **common)
    return evaluate(base, base_flops, alpha, beta, gamma, constraint=settings.constraint,
                    solve_resolution=settings.constraint == "measured" and solve == "resolution",
                    allow_shrink=settings.allow_shrink,
                    **common)  # references train even off budget


def describe(trial, candidate: Candidate, reference: str, settings: SearchSettings) -> None:
    attrs = {
        "reference": reference, "feasible": bool(candidate.feasible), "alpha": candidate.alpha, "beta": candidate.beta,
        "gamma": candidate.gamma, "formula_product": candidate.formula_product, "flops_ratio": candidate.flops_ratio,
        "width": candidate.spec.width, "depth": candidate.spec.depth, "resolution": candidate.spec.resolution,
        "flops": candidate.cost.flops, "params": candidate.cost.params, "activations": candidate.cost.activations,
        "counter": candidate.cost.counter, "architecture": candidate.spec.architecture(), "seed": settings.seed,
        "stage": EXPLORE, "sampler": settings.sampler, "constraint": settings.constraint, "budget": settings.budget,
        "spec": json.dumps(candidate.spec.to_dict()),
    }
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def grid_summary(base: SearchSpace, settings: SearchSettings, grid: list[tuple] | None) -> dict | None:
    if grid is None:
        return None
    total = len(grid_points(settings.grid)) if settings.constraint == "formula" else len(grid_depth_width_points(settings.grid))
    distinct = None
    if settings.constraint == "formula":  # without measuring: the rounded network and resolution
        distinct = len({scale(base, width=beta, depth=alpha, resolution_ratio=gamma).architecture_key() for alpha, beta, gamma in grid})
    return {"points": total, "candidates": len(grid), "distinct": distinct, "constraint": settings.constraint,
            "alpha_range": list(settings.grid.alpha_range), "beta_range": list(settings.grid.beta_range),
            "gamma_range": list(settings.grid.gamma_range), "step": settings.grid.step}


def grid_exhausted(study, grid: list[tuple]) -> bool:
    visited = {t.params.get("grid_point") for t in study.get_trials(deepcopy=False)}
    return len(visited - {None}) >= len(grid)
