"""The budget judgement on a real proxy base: measured FLOPs by the exact arithmetic counter, and the paper's
rule that no dimension shrinks (γ ≥ 1) unless asked; every candidate, of a search too, counted by arithmetic."""
import json

import pytest

from scalesearch.study.feasibility import evaluate
from scalesearch.cost.measure import measure
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from tests.text_figures import figures

BASE = proxy_base(load_space("efficientnet_b0"), 0.25, 0.34, 32)  # cpu-tiny's base
BASE_FLOPS = measure(scale(BASE), 10).flops


def _evaluate(alpha, beta, gamma=1.0, **options):
    settings = dict(budget=2.0, tolerance=0.1, constraint="measured", num_classes=10, solve_resolution=True)
    settings.update(options)
    return evaluate(BASE, BASE_FLOPS, alpha, beta, gamma, **settings)


def test_measured_mode_never_solves_gamma_below_one_by_default():
    candidate = _evaluate(1.0, 1.41)  # width alone costs 2.4x at 32 px: only a 26 px input would bring it to 2x
    assert candidate.gamma == 1.0 and not candidate.feasible
    # The ratio at 32 px, the tolerance, the budget, and the γ it stopped at; then the flag that lifts the rule.
    assert figures(candidate.reason) == ["2.40", "0.1", "2", "1"] and "--allow-shrink" in candidate.reason


def test_allow_shrink_lets_the_resolution_pay_for_width():
    candidate = _evaluate(1.0, 1.41, allow_shrink=True)
    assert candidate.gamma < 1.0 and candidate.feasible
    assert candidate.flops_ratio == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("constraint", ["formula", "measured"])
def test_a_coefficient_below_one_is_infeasible_in_both_modes_and_the_reason_names_the_coefficients(constraint):
    candidate = _evaluate(2.2, 1.0, 0.95, constraint=constraint, solve_resolution=False)
    assert not candidate.feasible and "shrinks a dimension" in candidate.reason
    assert figures(candidate.reason) == ["1", "2.200", "1.000", "0.950"]  # below 1: α, β, γ


def test_with_allow_shrink_a_coefficient_below_one_is_judged_by_the_budget_alone():
    formula = _evaluate(2.2, 1.0, 0.95, constraint="formula", solve_resolution=False, allow_shrink=True)
    # 2.2 × 1² × 0.95² = 1.9855, within 0.1 of 2: on budget, so no reason.
    assert formula.feasible and formula.reason == "" and formula.formula_product == pytest.approx(1.9855)
    measured = _evaluate(2.2, 1.0, 0.95, constraint="measured", solve_resolution=False, allow_shrink=True)
    # The same coefficients build a network the exact counter finds 2.52x the base: the ratio, tolerance and budget.
    assert not measured.feasible and figures(measured.reason) == ["2.52", "0.1", "2"]
    assert measured.flops_ratio == pytest.approx(2.52, abs=0.005)


@pytest.mark.slow  # fvcore traces of 18 networks
@pytest.mark.parametrize("space", ["efficientnet_b0", "mobilenet_v2", "resnet50"])
@pytest.mark.parametrize("preset", ["cpu-tiny", "gpu-small"])
def test_real_candidates_are_counted_by_arithmetic_equal_to_fvcore(space, preset):
    """Candidates as a search makes them (a preset's proxy base, γ solved, and a reference along its direction)."""
    from scalesearch.study.feasibility import evaluate_along
    from scalesearch.training.presets import PRESETS

    settings = PRESETS[preset]
    base = proxy_base(load_space(space), settings.base_width, settings.base_depth, settings.base_resolution)
    base_flops = measure(scale(base), 10, "fvcore").flops
    candidates = [evaluate(base, base_flops, alpha, beta, 1.0, budget=2.0, tolerance=0.1, constraint="measured",
                           num_classes=10, solve_resolution=True) for alpha, beta in ((1.3, 1.1), (1.0, 1.2))]
    candidates.append(evaluate_along(base, base_flops, 1.0, 1.0, 2.0, budget=2.0, tolerance=0.1, num_classes=10))
    for candidate in candidates:
        traced = measure(candidate.spec, 10, "fvcore")
        assert candidate.cost.counter == "arithmetic"
        assert (candidate.cost.flops, candidate.cost.params, candidate.cost.activations) == (
            traced.flops, traced.params, traced.activations)


@pytest.mark.slow  # over ~2 s
def test_a_search_counts_its_candidates_by_arithmetic_and_traces_none(tmp_path, monkeypatch):
    """A real SearchStudy (Ray-free) proposes references, feasible, infeasible and duplicate candidates; fvcore's
    tracer is watched, not replaced."""
    from scalesearch.cost import measure as measure_module
    from scalesearch.cost.formula import cost
    from scalesearch.model.scaling import ModelSpec
    from tests.helpers import make_study

    traces = []
    trace = measure_module._count_fvcore
    monkeypatch.setattr(measure_module, "_count_fvcore", lambda *args: traces.append(args) or trace(*args))
    study = make_study(tmp_path, constraint="measured", trials=6)
    while (proposal := study.propose()) is not None:
        study.complete(proposal.trial, {"accuracy": 0.5})
    assert traces == []
    trials = study.study.get_trials()
    assert {"infeasible", "complete", "duplicate"} <= {trial.user_attrs["status"] for trial in trials}
    assert set(study.table()["counter"]) == {"arithmetic"}  # and the table says how each was counted
    for trial in trials:
        expected = cost(ModelSpec.from_dict(json.loads(trial.user_attrs["spec"])), 10)
        assert [trial.user_attrs[key] for key in ("flops", "params", "activations")] == [
            expected.flops, expected.params, expected.activations]


def test_a_grid_no_point_of_which_measures_on_budget_is_refused_naming_the_smallest_tolerance_that_works():
    """Issue 22 §5: at --tolerance 1e-7 the grid looks fine before measuring (α·β² lets 84 pairs through), but after
    pixel rounding none measures that close. The run's own base and grid, judged as the study judges them."""
    import re

    from scalesearch.foundation.errors import InputError
    from scalesearch.pipeline.options import RunOptions, validate
    from scalesearch.pipeline.prepare import prepare
    from scalesearch.study.feasibility import feasible_grid, refuse_an_unmeetable_grid

    prepared = prepare(validate(RunOptions(budget="2x", sampler="grid", tolerance=1e-7, objective="analytic")))
    settings, base, base_flops = prepared.search_settings, prepared.base, prepared.base_cost.flops

    def judge(tolerance):
        refuse_an_unmeetable_grid(settings.grid, base, base_flops, budget=2.0, tolerance=tolerance,
                                  num_classes=settings.num_classes)

    assert len(feasible_grid(settings.grid, budget=2.0, tolerance=1e-7, constraint="measured", seed=0)) == 84
    with pytest.raises(InputError) as refusal:
        judge(1e-7)
    message = str(refusal.value)
    assert "no grid point measures within tolerance 1e-07 of the 2x budget" in message and "\n" not in message
    named = float(re.search(r"the smallest tolerance that works is --tolerance (\S+) ", message).group(1))
    nearest = float(re.search(r", (\S+)x off the budget\)", message).group(1))
    assert nearest < named < 2 * nearest  # just above the nearest point's distance
    judge(named)  # works: not refused
    points = feasible_grid(settings.grid, budget=2.0, tolerance=named, constraint="measured", seed=0)
    on_budget = any(evaluate(base, base_flops, alpha, beta, 1.0, budget=2.0, tolerance=named, constraint="measured",
                             num_classes=settings.num_classes, solve_resolution=True).feasible
                    for alpha, beta, _ in points)
    assert on_budget  # the study, walking the grid at that tolerance, finds a point to train
    with pytest.raises(InputError):
        judge(nearest * 0.99)  # and nothing smaller than the nearest distance works
