"""fvcore's FLOPs and activations of a ModelSpec, by arithmetic instead of tracing.

A fast aid, not the measurement: solving a candidate's resolution needs FLOPs at
many pixel sizes, and tracing costs a third of a second each. Follows fvcore's
conventions exactly (conv: weights × output area; batch norm in eval: 2 per
element; average pooling: 1 per input element; linear: in × out);
tests/test_flops_formula.py pins equality with fvcore, and every candidate's
final figures still come from fvcore.
"""
from __future__ import annotations

from scalesearch.model.blocks import Bottleneck
from scalesearch.model.scaling import ModelSpec


def _out(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * ((kernel - 1) // 2) - kernel) // stride + 1


class _Counter:
    def __init__(self):
        self.flops = 0
        self.activations = 0

    def conv_bn(self, size, in_channels, out_channels, kernel, stride, groups=1) -> int:
        size = _out(size, kernel, stride)
        area = size * size
        self.flops += out_channels * (in_channels // groups) * kernel * kernel * area + 2 * out_channels * area
        self.activations += out_channels * area
        return size


def count(spec: ModelSpec, num_classes: int) -> tuple[int, int]:
    """(FLOPs, activations) as fvcore would count them at batch 1 in eval mode."""
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
            else:
                hidden, out_channels = int(round(channels * stage.expand_ratio)), stage.channels
                if hidden != channels:
                    counter.conv_bn(size, channels, hidden, 1, 1)
                new_size = counter.conv_bn(size, hidden, hidden, stage.kernel, stride, groups=hidden)
                if stage.se_ratio > 0:
                    squeeze = max(1, int(channels * stage.se_ratio))
                    counter.flops += hidden * new_size * new_size + 2 * hidden * squeeze  # pool, two 1x1 convs
                    counter.activations += squeeze + hidden
                counter.conv_bn(new_size, hidden, out_channels, 1, 1)
            size, channels = new_size, out_channels
    if spec.head_channels is not None:
        counter.conv_bn(size, channels, spec.head_channels, 1, 1)
        channels = spec.head_channels
    counter.flops += channels * size * size + channels * num_classes  # global pool, classifier
    counter.activations += num_classes
    return counter.flops, counter.activations
