"""The budget judgement on a real proxy base: measured FLOPs by the exact arithmetic counter, and the paper's
rule that no dimension shrinks (γ ≥ 1) unless asked."""
import pytest

from scalesearch.study.feasibility import evaluate
from scalesearch.cost.measure import measure
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space

BASE = proxy_base(load_space("efficientnet_b0"), 0.25, 0.34, 32)  # cpu-tiny's base
BASE_FLOPS = measure(scale(BASE), 10).flops


def _evaluate(alpha, beta, gamma=1.0, **options):
    settings = dict(budget=2.0, tolerance=0.1, constraint="measured", num_classes=10, solve_resolution=True)
    settings.update(options)
    return evaluate(BASE, BASE_FLOPS, alpha, beta, gamma, **settings)


def test_measured_mode_never_solves_gamma_below_one_by_default():
    candidate = _evaluate(1.0, 1.41)  # width alone costs 2.4x at 32 px: only a 26 px input would bring it to 2x
    assert candidate.gamma == 1.0 and not candidate.feasible
    assert "even at gamma = 1" in candidate.reason and "--allow-shrink" in candidate.reason


def test_allow_shrink_lets_the_resolution_pay_for_width():
    candidate = _evaluate(1.0, 1.41, allow_shrink=True)
    assert candidate.gamma < 1.0 and candidate.feasible
    assert candidate.flops_ratio == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("constraint", ["formula", "measured"])
def test_a_coefficient_below_one_is_infeasible_in_both_modes(constraint):
    candidate = _evaluate(2.2, 1.0, 0.95, constraint=constraint, solve_resolution=False)
    assert not candidate.feasible and "shrinks a dimension" in candidate.reason
    assert _evaluate(2.2, 1.0, 0.95, constraint=constraint, solve_resolution=False, allow_shrink=True).reason != candidate.reason
