"""The arithmetic count, which every candidate of a search gets, must equal fvcore's exactly, and the parameters
the built network has."""
import pytest

from scalesearch.cost.formula import cost, count, uncounted_layers
from scalesearch.cost.measure import measure
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import SearchSpace, Stage, Stem, load_space


def _fvcore_and_arithmetic(spec, num_classes):
    traced = measure(spec, num_classes, "fvcore")
    counted = measure(spec, num_classes, "arithmetic")
    assert traced.counter == "fvcore" and counted.counter == "arithmetic"
    return (traced.flops, traced.params, traced.activations), (counted.flops, counted.params, counted.activations)


@pytest.mark.parametrize("space", ["efficientnet_b0", "mobilenet_v2", "resnet50"])
@pytest.mark.parametrize("width, depth, pixels", [
    pytest.param(0.25, 0.34, 32, id="w0.25-d0.34-r32"),
    pytest.param(0.3, 0.5, 37, id="w0.3-d0.5-r37"),
    pytest.param(0.5, 0.4, 65, id="w0.5-d0.4-r65"),
    pytest.param(0.35, 0.3, 50, id="w0.35-d0.3-r50"),
])
def test_formula_equals_fvcore(space, width, depth, pixels):
    spec = scale(load_space(space), width=width, depth=depth, pixels=pixels)
    traced, counted = _fvcore_and_arithmetic(spec, 10)
    assert counted == traced
    assert count(spec, 10) == (traced[0], traced[2])


def test_formula_equals_fvcore_for_the_official_b0():
    spec = scale(load_space("efficientnet_b0"))
    traced, counted = _fvcore_and_arithmetic(spec, 1000)
    assert counted == traced


# Every field a user's space file can set, in combinations the built-in spaces do not have: another stem (kernel,
# stride, max pooling), no head, expand ratio 1 with and without squeeze-excitation, kernels 1 to 7, a bottleneck
# after MBConv, stride 2 at the first stage, each activation.
USER_SPACES = [
    SearchSpace(name="mixed", stem=Stem(channels=12, kernel=5, stride=1, max_pool=True),
                stages=(Stage("mbconv", 7, 2, 1, 12, 2, 0.5), Stage("inverted_residual", 1, 1, 3, 20, 1),
                        Stage("bottleneck", 3, 2, 1, 8, 2), Stage("mbconv", 5, 2, 2.5, 40, 2, 0.1)),
                head_channels=None, resolution=29, activation="relu6", dropout=0.0, drop_connect=0.0),
    SearchSpace(name="wide_stem", stem=Stem(channels=40, kernel=7, stride=2),
                stages=(Stage("bottleneck", 5, 1, 1, 16, 3), Stage("inverted_residual", 3, 2, 6, 24, 2, 0.25)),
                head_channels=96, resolution=41, activation="relu", scale_head=False),
    SearchSpace(name="narrow", stem=Stem(channels=4, kernel=1, stride=1),
                stages=(Stage("mbconv", 3, 2, 1, 4, 1, 0.25), Stage("mbconv", 3, 2, 1, 8, 3)),
                head_channels=16, resolution=8),
]


@pytest.mark.parametrize("space", USER_SPACES, ids=lambda space: space.name)
@pytest.mark.parametrize("width, depth, resolution", [
    pytest.param(1.0, 1.0, 1.0, id="base"), pytest.param(1.3, 1.6, 1.2, id="scaled"),
])
def test_formula_equals_fvcore_for_what_a_user_space_can_hold(space, width, depth, resolution):
    spec = scale(space, width=width, depth=depth, resolution_ratio=resolution)
    assert uncounted_layers(spec) == ()
    traced, counted = _fvcore_and_arithmetic(spec, 7)
    assert counted == traced


def test_formula_follows_the_resolution_steps_of_a_proxy():
    base = proxy_base(load_space("efficientnet_b0"), 0.25, 0.34, 32)
    # 33 px adds a row and column to every feature map down to the last: a big step up.
    assert cost(scale(base, pixels=33), 10).flops > 1.5 * cost(scale(base, pixels=32), 10).flops
