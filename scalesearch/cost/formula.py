"""fvcore's FLOPs and activations of a ModelSpec, and its parameters, by arithmetic instead of tracing.

Every candidate of a search is counted this way: a trace takes a third of a second, the arithmetic a few
microseconds. Follows fvcore's conventions exactly (conv: weights × output area; batch norm in eval: 2 per
element; average pooling: 1 per input element; linear: in × out); tests/test_flops_formula.py pins equality
with fvcore and with the built network's parameters, and an export traces the winner once with fvcore to check.

The count walks the spec, not the module tree, so it is only right for networks built of the layers it knows:
``uncounted_layers`` says which layers of a built network it does not know (a user's file may bring its own),
and cost/measure.py traces such a network with fvcore instead.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from torch import nn

from scalesearch.model.blocks import Bottleneck, InvertedResidual, SqueezeExcitation, StochasticDepth
from scalesearch.model.scaling import ModelSpec

# Exact types, not subclasses: a subclass may do more in its forward. The activations are written out rather than
# read from blocks.ACTIVATIONS, which a user's file can change. fvcore counts none of them (element-wise).
_KNOWN_LAYERS = frozenset({
    nn.Sequential, nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.MaxPool2d, nn.Dropout, nn.Identity,
    nn.SiLU, nn.ReLU, nn.ReLU6,
    InvertedResidual, Bottleneck, SqueezeExcitation, StochasticDepth,
})


@dataclass(frozen=True)
class Count:
    flops: int
    params: int
    activations: int


def _out(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * ((kernel - 1) // 2) - kernel) // stride + 1


class _Counter:
    def __init__(self):
        self.flops = 0
        self.params = 0
        self.activations = 0

    def conv_bn(self, size, in_channels, out_channels, kernel, stride, groups=1) -> int:
        size = _out(size, kernel, stride)
        area = size * size
        weights = out_channels * (in_channels // groups) * kernel * kernel  # no bias: batch norm follows
        self.flops += weights * area + 2 * out_channels * area
        self.params += weights + 2 * out_channels  # batch norm's weight and bias (running stats are buffers)
        self.activations += out_channels * area
        return size

    def squeeze_excitation(self, size, channels, squeeze) -> None:
        self.flops += channels * size * size + 2 * channels * squeeze  # pool, two 1x1 convs on 1x1 maps
        self.params += 2 * channels * squeeze + squeeze + channels  # the two convs keep their biases
        self.activations += squeeze + channels


def cost(spec: ModelSpec, num_classes: int) -> Count:
    """FLOPs and activations as fvcore would count them at batch 1 in eval mode; parameters as built."""
    counter = _Counter()
    size = counter.conv_bn(spec.resolution, 3, spec.stem.channels, spec.stem.kernel, spec.stem.stride)
    if spec.stem.max_pool:
        size = _out(size, 3, 2)  # fvcore does not count max pooling
    channels = spec.stem.channels
    for stage in spec.stages:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            if stage.block == "bottleneck":
                width, out_channels = stage.channels, stage.channels * Bottleneck.expansion
                counter.conv_bn(size, channels, width, 1, 1)
                new_size = counter.conv_bn(size, width, width, stage.kernel, stride)
                counter.conv_bn(new_size, width, out_channels, 1, 1)
                if stride != 1 or channels != out_channels:
                    counter.conv_bn(size, channels, out_channels, 1, stride)
            elif stage.block in ("mbconv", "inverted_residual"):
                hidden, out_channels = int(round(channels * stage.expand_ratio)), stage.channels
                if hidden != channels:
                    counter.conv_bn(size, channels, hidden, 1, 1)
                new_size = counter.conv_bn(size, hidden, hidden, stage.kernel, stride, groups=hidden)
                if stage.se_ratio > 0:
                    counter.squeeze_excitation(new_size, hidden, max(1, int(channels * stage.se_ratio)))
                counter.conv_bn(new_size, hidden, out_channels, 1, 1)
            else:  # a block type added to the builder but not here must not be counted as another one
                raise ValueError(f"the arithmetic counter does not know block {stage.block!r}")
            size, channels = new_size, out_channels
    if spec.head_channels is not None:
        counter.conv_bn(size, channels, spec.head_channels, 1, 1)
        channels = spec.head_channels
    counter.flops += channels * size * size + channels * num_classes  # global pool, classifier
    counter.params += channels * num_classes + num_classes
    counter.activations += num_classes
    return Count(counter.flops, counter.params, counter.activations)


def count(spec: ModelSpec, num_classes: int) -> tuple[int, int]:
    """(FLOPs, activations) as fvcore would count them at batch 1 in eval mode."""
    result = cost(spec, num_classes)
    return result.flops, result.activations


def uncounted_layers(spec: ModelSpec) -> tuple[str, ...]:
    """Names of the layer types in ``spec``'s network that ``cost`` does not know; empty when it counts them all."""
    return _uncounted(_layer_signature(spec))


def _layer_signature(spec: ModelSpec) -> ModelSpec:
    """``spec`` with what cannot change which layer types are built (sizes, repeats, resolution) made small: the
    check is cached per signature, so a search builds one meta network per kind of network, not per candidate."""
    from dataclasses import replace

    stages = tuple(replace(stage, channels=1, repeats=1) for stage in spec.stages)
    return replace(spec, width=1.0, depth=1.0, resolution=32, stages=stages,
                   stem=replace(spec.stem, channels=1),
                   head_channels=None if spec.head_channels is None else 1)


@functools.lru_cache(maxsize=256)
def _uncounted(signature: ModelSpec) -> tuple[str, ...]:
    import torch

    from scalesearch.model.build import ScaledNetwork

    with torch.device("meta"):  # no weights allocated
        model = ScaledNetwork(signature, 1)
    unknown = {type(module) for module in model.modules() if type(module) not in _KNOWN_LAYERS | {ScaledNetwork}}
    return tuple(sorted(f"{layer.__module__}.{layer.__qualname__}" for layer in unknown))
