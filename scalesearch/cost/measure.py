"""Measured cost of a network: FLOPs (fvcore), parameters, activations; cached per architecture.

Convention: one fused multiply-add counts as one FLOP, like the paper; batch 1,
eval mode (fvcore counts batch norm differently in train mode).

Counters: ``fvcore`` traces the network (a third of a second for a proxy, seconds at full size); ``arithmetic``
gives fvcore's figures by arithmetic (cost/formula.py) in microseconds, and traces with fvcore the networks
whose layers it does not know; ``torch`` is the fallback when fvcore's tracer breaks.
"""
from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from scalesearch.model.build import build_model
from scalesearch.cost import formula
from scalesearch.cost.cache import disk_cache
from scalesearch.model.scaling import ModelSpec

log = logging.getLogger("scalesearch.cost.measure")

_cache: dict[tuple, "Measurement"] = {}
_cache_lock = threading.Lock()
_reported_unsupported: set[str] = set()
_reported_uncounted: set[tuple[str, ...]] = set()


@dataclass(frozen=True)
class Measurement:
    flops: int
    params: int
    activations: int
    counter: str  # "fvcore", "arithmetic", or "torch" for the fallback
    seconds: float  # time the measurement took (0 when served from the cache)


def measure(spec: ModelSpec, num_classes: int = 1000, counter: str = "fvcore") -> Measurement:
    """FLOPs, params and activations of ``spec``; never counts the same network twice per process,
    nor across processes when the disk cache is on (the default; SCALESEARCH_CACHE=off disables it).

    ``counter="arithmetic"`` is never cached (it costs microseconds) and returns ``counter="fvcore"`` for a network
    it cannot count."""
    if counter == "arithmetic":
        return _count_arithmetic(spec, num_classes)
    key = (spec.architecture_key(), num_classes, counter)
    unknown = formula.uncounted_layers(spec)
    if unknown:  # a user's own layer makes another network of the same spec (only then: older keys stay valid)
        key += (unknown,)
    with _cache_lock:
        if key in _cache:
            cached = _cache[key]
            return Measurement(cached.flops, cached.params, cached.activations, cached.counter, 0.0)
    stored = disk_cache.get(key)
    if stored is not None:
        result = Measurement(*stored, counter, 0.0)
        with _cache_lock:
            _cache[key] = result
        return result
    start = time.perf_counter()
    model = build_model(spec, num_classes).eval()
    inputs = torch.zeros(1, 3, spec.resolution, spec.resolution)
    params = sum(parameter.numel() for parameter in model.parameters())
    with torch.no_grad():
        if counter == "fvcore":
            try:
                flops, activations = _count_fvcore(model, inputs)
            except Exception as error:  # fvcore traces with a private torch.jit API that PyTorch is deprecating
                log.warning("fvcore could not count %s (%s: %s); PyTorch's counter is used instead (convolutions and "
                            "matrix products only)", spec.architecture_key()[:1], type(error).__name__, error)
                counter = "torch"
                flops, activations = _count_torch(model, inputs)
        elif counter == "torch":
            flops, activations = _count_torch(model, inputs)
        else:
            raise ValueError(f"unknown FLOPs counter {counter!r}; use fvcore, arithmetic or torch")
    result = Measurement(int(flops), int(params), int(activations), counter, time.perf_counter() - start)
    with _cache_lock:
        _cache[key] = result
    if result.counter == key[2]:  # a fallback's count is never stored as fvcore's
        disk_cache.put(key, (result.flops, result.params, result.activations))
    return result


def _count_arithmetic(spec: ModelSpec, num_classes: int) -> Measurement:
    started = time.perf_counter()
    unknown = formula.uncounted_layers(spec)
    if unknown:  # a wrong number would be worse than a slow one
        if unknown not in _reported_uncounted:
            _reported_uncounted.add(unknown)
            log.warning("the arithmetic FLOPs counter does not know the layers %s; networks with them are traced by "
                        "fvcore instead (about a third of a second each for a proxy)", ", ".join(unknown))
        return measure(spec, num_classes, "fvcore")
    result = formula.cost(spec, num_classes)
    return Measurement(result.flops, result.params, result.activations, "arithmetic", time.perf_counter() - started)


def _count_fvcore(model: nn.Module, inputs: torch.Tensor) -> tuple[int, int]:
    """fvcore's FLOPs; activations by ActivationCountAnalysis's definition (outputs of
    convolutions and linear layers) counted by hooks during the same trace, which halves
    the cost. tests/test_measure.py pins the equality with ActivationCountAnalysis."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore imports torch.jit.script and traces with a deprecated API
        from fvcore.nn import FlopCountAnalysis

        with _count_activations(model) as activations:
            analysis = FlopCountAnalysis(model, inputs)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            flops = analysis.total()
        _record_unsupported(analysis.unsupported_ops())
    return flops, activations.total


def _record_unsupported(ops) -> None:
    new = set(ops) - _reported_unsupported
    if new:
        _reported_unsupported.update(new)
        log.debug("fvcore does not count these ops (element-wise, by convention): %s", ", ".join(sorted(new)))


def _count_torch(model: nn.Module, inputs: torch.Tensor) -> tuple[int, int]:
    """Fallback if fvcore's tracer breaks: PyTorch's counter (conv and matmul only, 2 per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    with _count_activations(model) as activations, FlopCounterMode(display=False) as counter:
        model(inputs)
    return counter.get_total_flops() // 2, activations.total


class _count_activations:
    """Sums the output sizes of every convolution and linear layer while active."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.total = 0

    def _hook(self, _module, _inputs, output):
        self.total += output.numel()

    def __enter__(self):
        self.hooks = [
            module.register_forward_hook(self._hook)
            for module in self.model.modules()
            if isinstance(module, (nn.Conv2d, nn.Linear))
        ]
        return self

    def __exit__(self, *exc):
        for hook in self.hooks:
            hook.remove()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
