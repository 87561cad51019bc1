"""Measurement: cache, the activation definition, the fallback counter."""
import warnings

import pytest
import torch

from scalesearch.model.build import build_model
from scalesearch.cost.measure import clear_cache, measure
from scalesearch.model.scaling import scale
from scalesearch.model.spaces import load_space


@pytest.mark.parametrize("space", ["efficientnet_b0", "mobilenet_v2", "resnet50"])
def test_activations_equal_fvcores_activation_count_analysis(space):
    from fvcore.nn import ActivationCountAnalysis

    spec = scale(load_space(space), width=0.5, depth=0.5, resolution_ratio=0.5)
    model = build_model(spec, 10).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = ActivationCountAnalysis(model, torch.zeros(1, 3, spec.resolution, spec.resolution))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        expected = analysis.total()
    assert measure(spec, 10).activations == expected


@pytest.mark.slow  # over ~2 s
def test_the_same_network_is_counted_once():
    clear_cache()
    space = load_space("efficientnet_b0")
    first = measure(scale(space, width=0.5, depth=1.05, resolution_ratio=0.25), 10)
    # A different depth multiplier that rounds to the same blocks is the same network.
    second = measure(scale(space, width=0.5, depth=1.25, resolution_ratio=0.25), 10)
    assert first.seconds > 0 and second.seconds == 0.0
    assert (first.flops, first.params, first.activations) == (second.flops, second.params, second.activations)
    assert measure(scale(space, width=0.5, depth=1.25, resolution_ratio=0.3), 10).seconds > 0  # another resolution is another count


@pytest.mark.slow  # over ~2 s
def test_torch_fallback_counts_convolutions_and_matmuls_close_to_fvcore():
    spec = scale(load_space("efficientnet_b0"), width=0.5, depth=0.5, resolution_ratio=0.5)
    fvcore_count = measure(spec, 10, "fvcore")
    torch_count = measure(spec, 10, "torch")
    assert torch_count.counter == "torch"
    assert torch_count.activations == fvcore_count.activations
    # fvcore also counts batch norm and pooling; the fallback does not.
    assert 0.9 * fvcore_count.flops < torch_count.flops < fvcore_count.flops


@pytest.mark.slow  # over ~2 s
def test_flops_grow_with_resolution_squared():
    space = load_space("resnet50")
    small, large = measure(scale(space, pixels=112), 10), measure(scale(space, pixels=224), 10)
    # Close to 4x; the classifier and edge effects of small feature maps keep it a little under.
    assert 3.6 < large.flops / small.flops <= 4.0


@pytest.mark.slow  # two Python subprocesses
def test_a_second_process_reads_measurements_from_the_disk_cache(tmp_path):
    import os
    import subprocess
    import sys

    code = ("from scalesearch.cost.measure import measure; from scalesearch.model.scaling import scale; "
            "from scalesearch.model.spaces import load_space; "
            "m = measure(scale(load_space('mobilenet_v2'), pixels=64), 10); print(m.flops, m.seconds > 0)")
    environment = dict(os.environ, SCALESEARCH_CACHE=str(tmp_path / "cache.jsonl"))
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    assert first.stdout.split()[1] == "True" and second.stdout.split()[1] == "False"
    assert first.stdout.split()[0] == second.stdout.split()[0]


def test_a_failing_fvcore_trace_falls_back_to_the_torch_counter_and_says_so(monkeypatch, caplog):
    from scalesearch.cost import measure as measure_module

    def broken(model, inputs):
        raise RuntimeError("torch.jit._get_trace_graph is gone")

    monkeypatch.setattr(measure_module, "_count_fvcore", broken)
    spec = scale(load_space("efficientnet_b0"), width=0.5, depth=0.5, resolution_ratio=0.4)
    with caplog.at_level("WARNING", logger="scalesearch.cost.measure"):
        result = measure(spec, 7, "fvcore")
    assert result.counter == "torch" and result.flops > 0
    assert "PyTorch's counter is used instead" in caplog.text


# A user's space file that brings its own layer: ReLU swapped for a gate that pools its input. fvcore counts the
# pooling; the arithmetic counter, which walks the spec, cannot know it.
OWN_LAYER_SPACE = '''
import torch
from torch import nn

from scalesearch.model import blocks
from scalesearch.model.spaces import SearchSpace, Stage, Stem


class PooledGate(nn.Module):
    """x times the sigmoid of its mean over the feature map."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return x * torch.sigmoid(nn.functional.adaptive_avg_pool2d(x, 1))


blocks.ACTIVATIONS["relu"] = PooledGate

SPACE = SearchSpace(
    name="gated",
    stem=Stem(channels=16, kernel=5),
    stages=(Stage("mbconv", 3, 2, 4, 24, 2, 0.25), Stage("bottleneck", 7, 2, 1, 12, 1)),
    head_channels=72,
    resolution=36,
    activation="relu",
)
'''


@pytest.fixture
def own_layer_space(tmp_path, monkeypatch):
    """The space loaded the way --space path.py:SPACE loads it; the layer it installs is removed afterwards."""
    from scalesearch.cost import formula
    from scalesearch.cost.cache import disk_cache
    from scalesearch.model import blocks

    monkeypatch.setitem(blocks.ACTIVATIONS, "relu", blocks.ACTIVATIONS["relu"])  # restored after the test
    monkeypatch.setattr(disk_cache, "path", None)
    formula._uncounted.cache_clear()  # the layer check is cached per kind of network
    path = tmp_path / "gated_space.py"
    path.write_text(OWN_LAYER_SPACE)
    yield load_space(f"{path}:SPACE")
    formula._uncounted.cache_clear()
    clear_cache()


def _fvcore_flops(spec, num_classes):
    from fvcore.nn import FlopCountAnalysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = FlopCountAnalysis(build_model(spec, num_classes).eval(), torch.zeros(1, 3, spec.resolution, spec.resolution))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return analysis.total()


def test_a_user_layer_the_arithmetic_does_not_know_is_traced_by_fvcore(own_layer_space, caplog):
    from scalesearch.cost.formula import count, uncounted_layers

    spec = scale(own_layer_space, width=1.2, depth=1.5)
    assert [name.rpartition(".")[2] for name in uncounted_layers(spec)] == ["PooledGate"]
    with caplog.at_level("WARNING", logger="scalesearch.cost.measure"):
        result = measure(spec, 10, "arithmetic")
    assert result.counter == "fvcore"
    assert result.flops == _fvcore_flops(spec, 10)
    assert count(spec, 10)[0] < result.flops  # what the arithmetic alone would have said: the pooling missed
    assert "PooledGate" in caplog.text and "traced by fvcore" in caplog.text
    # And so in a search: the candidate's cost is fvcore's.
    from scalesearch.study.feasibility import evaluate

    base_flops = measure(scale(own_layer_space), 10, "arithmetic").flops
    candidate = evaluate(own_layer_space, base_flops, 1.5, 1.2, 1.0, budget=2.0, tolerance=0.5, constraint="measured",
                         num_classes=10, solve_resolution=False)
    assert candidate.cost.counter == "fvcore" and candidate.cost.flops == result.flops


def test_a_network_with_a_user_layer_is_not_served_the_count_of_the_same_spec_without_it(own_layer_space):
    from torch import nn

    from scalesearch.cost import formula
    from scalesearch.model import blocks

    spec = scale(own_layer_space)
    with_layer = measure(spec, 10, "fvcore")
    blocks.ACTIVATIONS["relu"] = nn.ReLU
    formula._uncounted.cache_clear()  # the check is cached per process: a layer swapped mid-run is not seen
    without_layer = measure(spec, 10, "fvcore")
    assert with_layer.flops > without_layer.flops == formula.count(spec, 10)[0]
