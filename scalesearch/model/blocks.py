"""The building blocks: inverted residual (MBConv, with optional SE) and ResNet bottleneck."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6}


def conv_bn(in_channels, out_channels, kernel, stride, norm, activation=None, groups=1):
    layers = [
        nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        norm(out_channels),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


class StochasticDepth(nn.Module):
    """Drops the whole residual branch per sample ("drop-connect" in the TF code)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int, activation):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation(inplace=True)

    def forward(self, x):
        scale = nn.functional.adaptive_avg_pool2d(x, 1)
        scale = torch.sigmoid(self.expand(self.activation(self.reduce(scale))))
        return x * scale


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expand, k×k depthwise, optional SE, 1x1 project, residual when shapes allow."""

    def __init__(self, in_channels, out_channels, kernel, stride, expand_ratio, se_ratio, activation, norm, drop_rate):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        layers = []
        if hidden != in_channels:
            layers.append(conv_bn(in_channels, hidden, 1, 1, norm, activation))
        layers.append(conv_bn(hidden, hidden, kernel, stride, norm, activation, groups=hidden))
        if se_ratio > 0:
            # Official EfficientNet squeezes relative to the block's *input* channels.
            layers.append(SqueezeExcitation(hidden, max(1, int(in_channels * se_ratio)), activation))
        layers.append(conv_bn(hidden, out_channels, 1, 1, norm))
        self.branch = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels
        self.drop = StochasticDepth(drop_rate) if self.residual else nn.Identity()

    def forward(self, x):
        out = self.branch(x)
        return x + self.drop(out) if self.residual else out


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: the stride sits on the 3x3 conv; output is 4× the bottleneck width."""

    expansion = 4

    def __init__(self, in_channels, width, kernel, stride, activation, norm, drop_rate):
        super().__init__()
        out_channels = width * self.expansion
        self.branch = nn.Sequential(
            conv_bn(in_channels, width, 1, 1, norm, activation),
            conv_bn(width, width, kernel, stride, norm, activation),
            conv_bn(width, out_channels, 1, 1, norm),
        )
        self.shortcut = (
            conv_bn(in_channels, out_channels, 1, stride, norm)
            if stride != 1 or in_channels != out_channels
            else nn.Identity()
        )
        self.drop = StochasticDepth(drop_rate)
        self.activation = activation(inplace=True)

    def forward(self, x):
        return self.activation(self.shortcut(x) + self.drop(self.branch(x)))
