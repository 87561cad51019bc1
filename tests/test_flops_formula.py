"""The arithmetic count used to solve resolutions must equal fvcore's exactly."""
import pytest

from scalesearch.cost.formula import count
from scalesearch.cost.measure import measure
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space


@pytest.mark.parametrize("space", ["efficientnet_b0", "mobilenet_v2", "resnet50"])
@pytest.mark.parametrize("width, depth, pixels", [
    pytest.param(0.25, 0.34, 32, id="w0.25-d0.34-r32"),
    pytest.param(0.3, 0.5, 37, id="w0.3-d0.5-r37"),
    pytest.param(0.5, 0.4, 65, id="w0.5-d0.4-r65"),
    pytest.param(0.35, 0.3, 50, id="w0.35-d0.3-r50"),
])
def test_formula_equals_fvcore(space, width, depth, pixels):
    spec = scale(load_space(space), width=width, depth=depth, pixels=pixels)
    cost = measure(spec, 10)
    assert count(spec, 10) == (cost.flops, cost.activations)


def test_formula_equals_fvcore_for_the_official_b0():
    spec = scale(load_space("efficientnet_b0"))
    cost = measure(spec, 1000)
    assert count(spec, 1000) == (cost.flops, cost.activations)


def test_formula_follows_the_resolution_steps_of_a_proxy():
    base = proxy_base(load_space("efficientnet_b0"), 0.25, 0.34, 32)
    # 33 px adds a row and column to every feature map down to the last: a big step up.
    assert count(scale(base, pixels=33), 10)[0] > 1.5 * count(scale(base, pixels=32), 10)[0]
