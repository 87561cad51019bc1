"""Timing one forward pass, the device's queue drained before and after: the one way latency is timed."""
from __future__ import annotations

import time

import torch


def forward_ms(model, inputs: torch.Tensor, device: torch.device, autocast) -> float:
    """One forward pass of ``model`` in ms, the device's queue drained before and after (a trial's latency, training/proxy.py,
    and the tie-break's, cost/latency.py, time the same way)."""
    _synchronize(device)
    started = time.perf_counter()
    with autocast:
        model(inputs)
    _synchronize(device)
    return (time.perf_counter() - started) * 1000


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
