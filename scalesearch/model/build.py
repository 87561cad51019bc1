"""ModelSpec → torch.nn.Module."""
from __future__ import annotations

import functools
import math

import torch
from torch import nn

from scalesearch.model.blocks import ACTIVATIONS, Bottleneck, InvertedResidual, conv_bn
from scalesearch.model.scaling import ModelSpec


class ScaledNetwork(nn.Module):
    def __init__(self, spec: ModelSpec, num_classes: int):
        super().__init__()
        self.spec = spec
        activation = ACTIVATIONS[spec.activation]
        norm = functools.partial(nn.BatchNorm2d, eps=spec.bn_eps, momentum=spec.bn_momentum)
        stem = [conv_bn(3, spec.stem.channels, spec.stem.kernel, spec.stem.stride, norm, activation)]
        if spec.stem.max_pool:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)

        total_blocks = sum(stage.repeats for stage in spec.stages)
        blocks, channels, index = [], spec.stem.channels, 0
        for stage in spec.stages:
            for repeat in range(stage.repeats):
                stride = stage.stride if repeat == 0 else 1
                drop_rate = spec.drop_connect * index / total_blocks
                if stage.block == "bottleneck":
                    block = Bottleneck(channels, stage.channels, stage.kernel, stride, activation, norm, drop_rate)
                    channels = stage.channels * Bottleneck.expansion
                else:
                    block = InvertedResidual(
                        channels, stage.channels, stage.kernel, stride, stage.expand_ratio,
                        stage.se_ratio, activation, norm, drop_rate,
                    )
                    channels = stage.channels
                blocks.append(block)
                index += 1
        self.blocks = nn.Sequential(*blocks)
        if spec.head_channels is not None:
            self.head = conv_bn(channels, spec.head_channels, 1, 1, norm, activation)
            channels = spec.head_channels
        else:
            self.head = nn.Identity()
        self.dropout = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(channels, num_classes)
        self.num_features = channels
        _initialise(self)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(self.dropout(x))


def _initialise(model: nn.Module) -> None:
    if next(model.parameters()).is_meta:
        return
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.out_features)
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.zeros_(module.bias)
    # Residual branches start as identity (Goyal et al. 2017): short proxy trainings
    # of deep candidates converge much faster, so depth is not unfairly penalised.
    for module in model.modules():
        if isinstance(module, (InvertedResidual, Bottleneck)) and _is_residual(module):
            nn.init.zeros_(module.branch[-1][1].weight)


def _is_residual(block) -> bool:
    return isinstance(block, Bottleneck) or block.residual


def build_model(spec: ModelSpec, num_classes: int = 1000) -> ScaledNetwork:
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    return ScaledNetwork(spec, num_classes)


def count_parameters(spec: ModelSpec, num_classes: int = 1000) -> int:
    """Exact parameter count without allocating weights (built on the meta device)."""
    with torch.device("meta"):
        model = ScaledNetwork(spec, num_classes)
    return sum(parameter.numel() for parameter in model.parameters())
