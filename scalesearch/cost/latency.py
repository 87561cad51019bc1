"""The latency the tie-break picks by: the tied networks timed after the search, in turn, with nothing else running.

A trial's own figure (column ``latency_ms``) is timed on its worker while other trials train beside it. On the 2-core
machine one network's figures over its seeds spread wider than the gaps between tied networks, so a pick by them was
a draw (the spreads as measured: docs/benchmarks.md §7, "The tie-break is now repeatable"). Timed here in
interleaved rounds, so that a slow moment of the machine costs every network alike, and the median of each taken.
"""
from __future__ import annotations

import statistics

import torch

from scalesearch.model.build import build_model
from scalesearch.model.scaling import ModelSpec
from scalesearch.training.recipe import recipe_for
from scalesearch.training.timing import forward_ms


@torch.inference_mode()
def time_alone(specs: dict[str, ModelSpec], num_classes: int, device: torch.device, threads: int,
               rounds: int = 25, warmup: int = 3) -> dict[str, float]:
    """Median eval-mode forward time at batch 1, in ms, of each network (by architecture id), on ``device`` with the
    trial's recipe and, on a CPU, the trial's number of threads."""
    recipe = recipe_for(device)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        models, inputs = {}, {}
        for architecture, spec in specs.items():
            torch.manual_seed(0)
            models[architecture] = build_model(spec, num_classes).eval().to(device, memory_format=recipe.memory_format)
            inputs[architecture] = torch.randn(1, 3, spec.resolution, spec.resolution, device=device).contiguous(
                memory_format=recipe.memory_format)
        timings: dict[str, list[float]] = {architecture: [] for architecture in specs}
        order = list(specs)
        for round_number in range(warmup + rounds):
            for architecture in order[round_number % len(order):] + order[:round_number % len(order)]:
                elapsed = forward_ms(models[architecture], inputs[architecture], device, recipe.autocast(device))
                if round_number >= warmup:
                    timings[architecture].append(elapsed)
        return {architecture: statistics.median(values) for architecture, values in timings.items()}
    finally:
        torch.set_num_threads(previous_threads)
