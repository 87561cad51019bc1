"""The pure scaling math: rounding rules, budget parsing, extrapolation."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import (
    formula_product,
    parse_budget,
    round_filters,
    round_repeats,
    round_resolution,
    scale,
)
from scalesearch.model.phis import (
    extrapolate,
    floors_at,
    parse_phi_values,
    parse_phis,
    phi_name,
    phi_too_small,
    resolution_floor,
    smallest_phi,
)
from scalesearch.model.spaces import load_space

channels = st.integers(min_value=1, max_value=4096)
multipliers = st.floats(min_value=0.05, max_value=8.0, allow_nan=False)


@given(channels, multipliers)
def test_round_filters_is_a_multiple_of_8_and_at_least_90_percent(count, width):
    rounded = round_filters(count, width)
    assert rounded % 8 == 0 and rounded >= 8
    assert rounded >= 0.9 * count * width


@given(channels, multipliers, multipliers)
def test_round_filters_is_monotone_in_width(count, width_a, width_b):
    low, high = sorted((width_a, width_b))
    assert round_filters(count, low) <= round_filters(count, high)


@given(st.integers(1, 64), multipliers, multipliers)
def test_round_repeats_is_at_least_one_and_monotone(repeats, depth_a, depth_b):
    low, high = sorted((depth_a, depth_b))
    assert 1 <= round_repeats(repeats, low) <= round_repeats(repeats, high)
    assert round_repeats(repeats, high) >= repeats * high - 1e-6


def test_round_repeats_is_ceil_so_the_paper_depth_adds_a_block_everywhere():
    assert [round_repeats(r, 1.2) for r in (1, 2, 2, 3, 3, 4, 1)] == [2, 3, 3, 4, 4, 5, 2]
    assert round_repeats(3, 1.0) == 3


@given(st.floats(8, 2000), st.sampled_from([1, 8, 32]))
def test_round_resolution_is_the_nearest_multiple(pixels, multiple):
    rounded = round_resolution(pixels, multiple)
    assert rounded % multiple == 0
    assert abs(rounded - pixels) <= multiple / 2 + 1e-9 or rounded == multiple


@pytest.mark.parametrize("text, value", [("2x", 2.0), ("2", 2.0), ("1.5x", 1.5), (" 4X ", 4.0), (3, 3.0)])
def test_parse_budget_accepts(text, value):
    assert parse_budget(text) == value


@pytest.mark.parametrize("text", ["2y", "0x", "-1x", "1x", "1", "nan", "inf", "1e9x", "", "x", "2xx"])
def test_parse_budget_rejects(text):
    with pytest.raises(InputError):
        parse_budget(text)


@pytest.mark.parametrize("text, phis", [("1-7", [1, 2, 3, 4, 5, 6, 7]), ("3", [3]), ("1,3, 5", [1, 3, 5]), ("0-2,2", [0, 1, 2])])
def test_parse_phis(text, phis):
    assert parse_phis(text) == phis
    assert parse_phi_values(text) == phis  # today's syntax means the same to extrapolate and export


@pytest.mark.parametrize("text", ["7-1", "a", "1-", "1-99", "", "-1-2", "0.5", "0,1.5"])
def test_parse_phis_rejects(text):
    """parse_phis is --curve-phi's: whole φ from 0 (the curve starts at the proxy base)."""
    with pytest.raises(InputError):
        parse_phis(text)


@pytest.mark.parametrize("text, phis", [
    ("-2..7", [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7]),
    ("-2-3", [-2, -1, 0, 1, 2, 3]),  # the issue's own spelling: a range from -2 to 3
    ("-2--1", [-2, -1]),
    ("-1,0.5,1.5", [-1, 0.5, 1.5]),
    ("0.5", [0.5]),
    ("0.5..2.5", [0.5, 1.5, 2.5]),
    ("-0.25, 0.50, 1..2", [-0.25, 0.5, 1, 2]),
    ("-12..-11, 12", [-12, -11, 12]),
])
def test_parse_phi_values_takes_negative_and_fractional_phi(text, phis):
    parsed = parse_phi_values(text)
    assert parsed == phis
    assert all(type(phi) is int for phi in parsed if phi == int(phi))  # B1 stays "B1" and "phi": 1, not 1.0


@pytest.mark.parametrize("text, words", [
    ("7-1", "must go upwards"), ("7..-2", "must go upwards"), ("a", "malformed"), ("1-", "malformed"),
    ("1..", "malformed"), ("", "malformed"), ("1e3", "malformed"), ("-13", "within -12..12"), ("1-99", "within -12..12"),
    ("0.1234", "more than 3 decimals"), ("0.5..3", "whole steps"),
])
def test_parse_phi_values_rejects_in_words(text, words):
    with pytest.raises(InputError, match=words):
        parse_phi_values(text)


def test_a_whole_step_range_from_minus_2_to_7_builds_10_networks_named_unambiguously():
    networks = extrapolate(load_space("efficientnet_b0"), *PAPER, phis=parse_phi_values("-2..7"))
    assert [name for name, _, _ in networks] == ["B-2", "B-1", "B0", "B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    assert [phi_name(phi) for phi in (0.5, -0.25, 1.125, -1)] == ["B0.5", "B-0.25", "B1.125", "B-1"]


@given(st.lists(st.integers(-12_000, 12_000), min_size=2, max_size=20, unique=True))
def test_distinct_phi_have_distinct_names(thousandths):
    phis = parse_phi_values(",".join(f"{value / 1000:.3f}" for value in thousandths))
    assert len({phi_name(phi) for phi in phis}) == len(phis) == len(thousandths)


PAPER = (1.2, 1.1, 1.15)


def test_below_b0_and_between_the_b_numbers_the_networks_order_by_size():
    """B-1 < B0 < B0.5 < B1 in FLOPs; φ = 0.5 lies between B0 and B1 in depth, width and resolution."""
    from scalesearch.cost.formula import cost

    space = load_space("efficientnet_b0")
    networks = {name: spec for name, _, spec in extrapolate(space, *PAPER, phis=[-1, 0, 0.5, 1])}
    flops = [cost(networks[name], 1000).flops for name in ("B-1", "B0", "B0.5", "B1")]
    assert flops == sorted(flops) and len(set(flops)) == 4
    b0, half, b1 = networks["B0"], networks["B0.5"], networks["B1"]
    assert b0.depth < half.depth < b1.depth and b0.width < half.width < b1.width
    assert half.depth == pytest.approx(1.2**0.5) and half.width == pytest.approx(1.1**0.5)
    assert b0.resolution < half.resolution == round(224 * 1.15**0.5) < b1.resolution
    assert networks["B-1"].resolution == round(224 / 1.15) and networks["B-1"].width == pytest.approx(1 / 1.1)
    assert b0 == scale(space)


def test_the_floors_at_phi_below_0_hold_each_stage_at_one_block_and_8_channels():
    space = load_space("efficientnet_b0")
    (_, _, smallest), = extrapolate(space, *PAPER, phis=[smallest_phi(space, *PAPER)])
    assert all(stage.repeats >= 1 and stage.channels >= 8 for stage in smallest.stages)
    assert smallest.resolution >= resolution_floor(space) == 32  # B0's total stride
    assert [stage.repeats for stage in smallest.stages] == [1, 2, 2, 2, 2, 3, 1]


def test_the_smallest_phi_of_the_paper_point_on_b0_is_computed_from_the_depth_floor():
    """B0's stages have 1,2,2,3,3,4,1 blocks: the two 1-block stages are held at any φ < 0, the two 2-block stages
    once 2·1.2^φ < 1, so from φ < log(1/2)/log(1.2) = -3.8018 four of seven (more than half) are held."""
    space = load_space("efficientnet_b0")
    threshold = math.log(0.5) / math.log(1.2)
    assert smallest_phi(space, *PAPER) == math.ceil(threshold * 1000) / 1000 == -3.801
    assert floors_at(space, *PAPER, -3.801) == (2, False)
    assert floors_at(space, *PAPER, -3.802) == (4, False)
    assert not phi_too_small(space, *PAPER, -3.801) and phi_too_small(space, *PAPER, -3.802)
    assert floors_at(space, *PAPER, 0) == floors_at(space, *PAPER, 5) == (0, False)


def test_the_resolution_floor_binding_refuses_a_phi_alone():
    """Resolution-only scaling holds no stage, so the input's floor decides: 224·1.5^φ ≥ 32 from φ = -4.799."""
    space = load_space("efficientnet_b0")
    assert smallest_phi(space, 1.0, 1.0, 1.5) == math.ceil(math.log(32 / 224) / math.log(1.5) * 1000) / 1000 == -4.799
    assert floors_at(space, 1.0, 1.0, 1.5, -4.8) == (0, True)
    with pytest.raises(InputError, match="its input would fall below 32 px.*smallest φ that works is -4.799"):
        extrapolate(space, 1.0, 1.0, 1.5, phis=[-5, 0, 1])


def test_a_phi_too_small_is_refused_in_one_line_naming_the_smallest_that_works():
    space = load_space("efficientnet_b0")
    with pytest.raises(InputError) as refusal:
        extrapolate(space, *PAPER, phis=[-5, -4, 0, 1])
    message = str(refusal.value)
    assert "\n" not in message and message.startswith("φ = -5 is too small")
    assert "4 of its 7 stages would be held at one block or 8 channels" in message  # at -5, as from -3.802
    assert "the smallest φ that works is -3.801 (the smallest whole φ: -3)" in message
    assert len(extrapolate(space, *PAPER, phis=[-3.801, -3])) == 2


coefficient = st.floats(1.0, 2.0, allow_nan=False)


@given(coefficient, coefficient, coefficient)
def test_the_smallest_phi_works_and_the_next_smaller_does_not(alpha, beta, gamma):
    space = load_space("efficientnet_b0")
    least = smallest_phi(space, alpha, beta, gamma)
    assert -12 <= least <= 0 and not phi_too_small(space, alpha, beta, gamma, least)
    assert least == -12 or phi_too_small(space, alpha, beta, gamma, least - 0.001)
    # Every larger φ works too: the bisection relies on it.
    assert not any(phi_too_small(space, alpha, beta, gamma, least + step) for step in (0.001, 0.5, 1, 3))


def test_the_default_extrapolation_is_still_b0_to_b7_of_whole_phi():
    networks = extrapolate(load_space("efficientnet_b0"), *PAPER)
    assert [(name, phi) for name, phi, _ in networks] == [(f"B{phi}", phi) for phi in range(8)]
    assert all(type(phi) is int for _, phi, _ in networks)


def test_paper_point_formula_product_is_1_92_not_2():
    assert formula_product(1.2, 1.1, 1.15) == pytest.approx(1.9203, abs=1e-4)


def test_extrapolation_uses_powers_of_the_coefficients():
    space = load_space("efficientnet_b0")
    networks = extrapolate(space, 1.2, 1.1, 1.15, phis=[0, 3])
    (_, _, base), (name, phi, b3) = networks
    assert base == scale(space)
    assert (name, phi) == ("B3", 3)
    assert b3.depth == pytest.approx(1.2**3) and b3.width == pytest.approx(1.1**3)
    assert b3.resolution == round(224 * 1.15**3)


def test_scale_keeps_the_specs_of_equal_networks_equal_in_architecture():
    space = load_space("efficientnet_b0")
    # Every depth in (1, 1.25] builds the same 23 blocks (an early note said 1.30; 4 × 1.26 rounds up to 6; docs/design.md §3): same network.
    assert scale(space, width=1.0, depth=1.05).architecture_key() == scale(space, width=1.0, depth=1.25).architecture_key()
    assert scale(space, width=1.0, depth=1.05).architecture_key() != scale(space, width=1.0, depth=1.26).architecture_key()
    assert sum(stage.repeats for stage in scale(space, width=1.0, depth=1.2).stages) == 23


def test_modelspec_round_trips_through_a_dict():
    from scalesearch.model.scaling import ModelSpec

    spec = scale(load_space("resnet50"), width=1.3, depth=1.7, resolution_ratio=1.1)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert math.isclose(spec.width, 1.3)
