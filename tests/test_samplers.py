"""Samplers and the grid: counts, feasibility by construction, reproducibility by seed."""
import math

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalesearch.foundation.errors import InputError
from scalesearch.study.samplers import (
    SAMPLERS,
    SHARE_STEP,
    GridSpec,
    coefficients_from_shares,
    formula_feasible,
    grid_depth_width_points,
    grid_points,
    make_sampler,
    reference_points,
    shares_from_coefficients,
    suggest_shares,
)
from scalesearch.model.scaling import fast_compound_coefficients, formula_product
from tests.helpers import make_study


def test_the_nni_grid_keeps_108_of_2541_points():
    points = grid_points(GridSpec())
    assert len(points) == 2541
    assert sum(formula_feasible(*point, 2.0, 0.1) for point in points) == 108


def test_the_measured_grid_runs_over_alpha_and_beta_only():
    assert len(grid_depth_width_points(GridSpec())) == 21 * 11


@given(st.floats(0, 1), st.floats(0, 1), st.floats(1.1, 8))
def test_every_share_pair_is_on_the_budget_with_coefficients_at_least_one(depth_share, width_share, budget):
    alpha, beta, gamma = coefficients_from_shares(depth_share, width_share, budget)
    assert min(alpha, beta, gamma) >= 1.0 - 1e-12
    assert formula_product(alpha, beta, gamma) == pytest.approx(budget, rel=1e-9)


@given(st.integers(1, 50), st.integers(0, 50), st.floats(1.1, 8))
def test_shares_invert_coefficients_on_the_share_steps(depth_step, width_step, budget):
    shares = (depth_step * SHARE_STEP, width_step * SHARE_STEP)
    again = shares_from_coefficients(*coefficients_from_shares(*shares, budget))
    assert again == pytest.approx(shares, abs=1e-9)


@pytest.mark.parametrize("sampler_name", ["random", "tpe"])
def test_samplers_propose_alpha_exactly_one(sampler_name):
    # Repeats round up: α = 1 is the only depth without extra blocks, and continuous shares never drew it.
    study = optuna.create_study(sampler=make_sampler(sampler_name, 0, trials=200), direction="maximize")
    alphas = []
    for _ in range(200):
        trial = study.ask()
        alpha, beta, gamma = coefficients_from_shares(*suggest_shares(trial), 2.0)
        alphas.append(alpha)
        study.tell(trial, -abs(alpha - 1.1))  # a cheap deterministic objective in place of training
    assert alphas.count(1.0) >= 2


def test_references_include_the_paper_point_only_for_b0_at_2x():
    labels = [r.label for r in reference_points("efficientnet_b0", 2.0, "measured")]
    assert labels == ["paper", "paper-literal", "dWr", "depth-only", "width-only", "resolution-only"]
    assert [r.label for r in reference_points("efficientnet_b0", 2.0, "formula")][0] == "paper"
    assert "paper" not in [r.label for r in reference_points("resnet50", 2.0, "measured")]
    single = {r.label: r for r in reference_points("resnet50", 3.0, "formula")}
    for label in ("dWr", "depth-only", "width-only", "resolution-only"):
        reference = single[label]
        assert formula_product(reference.alpha, reference.beta, reference.gamma) == pytest.approx(3.0)


def _propose(folder, sampler_name, seed, count=5):
    """The (α, β, γ) a real SearchStudy hands out for training, a cheap deterministic objective told back in
    place of training (accuracy from the trained network's width and depth)."""
    folder.mkdir(parents=True, exist_ok=True)
    study = make_study(folder, sampler=sampler_name, seed=seed, trials=count, references=False, constraint="formula")
    trained = []
    while (proposal := study.propose()) is not None:
        trained.append(proposal.trial)
        value = 1.0 - abs(proposal.spec["depth"] - 1.3) - abs(proposal.spec["width"] - 1.15)
        study.complete(proposal.trial, {"accuracy": value})
    assert len(trained) == count
    table = study.table().set_index("trial").loc[trained]
    return [tuple(map(float, point)) for point in table[["alpha", "beta", "gamma"]].itertuples(index=False)]


@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_each_sampler_proposes_only_feasible_points_with_fake_objective(sampler_name, tmp_path):
    for point in _propose(tmp_path, sampler_name, seed=1):
        assert formula_feasible(*point, 2.0, 0.1)
        assert min(point) >= 1.0 - 1e-12


@pytest.mark.parametrize("sampler_name", SAMPLERS)
@pytest.mark.slow  # over ~2 s
def test_each_sampler_is_reproducible_by_seed(sampler_name, tmp_path):
    first, again, other = (_propose(tmp_path / name, sampler_name, seed) for name, seed in
                           (("first", 3), ("again", 3), ("other", 4)))
    assert first == again
    assert first != other


def test_unknown_sampler_is_a_clear_error():
    with pytest.raises(InputError, match="unknown sampler"):
        make_sampler("bayes", 0)


def test_fast_compound_scaling_gives_a_tenth_of_log_s_to_depth_and_resolution_and_the_rest_to_width():
    # pycls's "d1_w8_g8_r1" at s = 2: d = 2^(1/10), w = 2^(8/10/2), r = 2^(1/10/2), so d·w²·r² = 2.
    alpha, beta, gamma = fast_compound_coefficients(2.0)
    assert (alpha, beta, gamma) == pytest.approx((1.071773, 1.319508, 1.035265), abs=1e-6)
    assert formula_product(alpha, beta, gamma) == pytest.approx(2.0)
    shares = [math.log(alpha), 2 * math.log(beta), 2 * math.log(gamma)]
    assert [share / math.log(2.0) for share in shares] == pytest.approx([0.1, 0.8, 0.1])
    dwr = next(r for r in reference_points("resnet50", 2.0, "measured") if r.label == "dWr")
    assert dwr.solve == "along"  # measured mode keeps its direction and scales it to the budget


@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_every_sampler_survives_the_round_trip_through_its_file(sampler_name, tmp_path):
    # optuna 5.1's NSGAIISampler holds a thread lock, which plain pickle refuses: the run folder's sampler.pkl must
    # still be written, and read back into a sampler that works.
    from scalesearch.study.persistence import load_sampler

    options = dict(sampler=sampler_name, seed=1, trials=2, references=False, constraint="formula")
    study = make_study(tmp_path, **options)
    first = study.propose()
    study.complete(first.trial, {"accuracy": 0.5})
    assert type(load_sampler(tmp_path)) is type(study.study.sampler)
    resumed = make_study(tmp_path, **options, resume=True)  # the run's resume path: the sampler from its file
    assert type(resumed.study.sampler) is type(study.study.sampler)
    assert resumed.propose() is not None
