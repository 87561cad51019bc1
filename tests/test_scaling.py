"""The pure scaling math: rounding rules, budget parsing, extrapolation."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import (
    extrapolate,
    formula_product,
    parse_budget,
    parse_phis,
    round_filters,
    round_repeats,
    round_resolution,
    scale,
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


@pytest.mark.parametrize("text", ["7-1", "a", "1-", "1-99", ""])
def test_parse_phis_rejects(text):
    with pytest.raises(InputError):
        parse_phis(text)


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
