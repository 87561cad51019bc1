"""What a Ray trial runs for a candidate: the proxy training, or a cheap analytic stand-in.

Every objective has the signature ``objective(spec, dataset, settings, on_epoch) -> dict``
with the keys of ``study.RESULT_KEYS``; ``on_epoch`` receives per-epoch metrics.
"""
from __future__ import annotations

import math
import time

from scalesearch.scaling import ModelSpec


def analytic_objective(spec: ModelSpec, dataset, settings: dict, on_epoch) -> dict:
    """A deterministic, instant stand-in for training (tests and dry runs): a smooth,
    made-up accuracy that rewards a balance of depth, width and resolution.
    ``settings["fail_if_resolution_above"]`` makes large candidates raise, to test failures;
    ``settings["seconds_per_epoch"]`` makes it slow, to test interruption."""
    threshold = settings.get("fail_if_resolution_above")
    if threshold is not None and spec.resolution > threshold:
        raise FloatingPointError("loss became nan (analytic objective told to fail)")
    blocks = sum(stage.repeats for stage in spec.stages)
    width = sum(stage.channels for stage in spec.stages)
    score = (math.log(blocks) + 0.8 * math.log(width) + 1.5 * math.log(spec.resolution)) / 3.0
    balance = -((math.log(blocks) - 1.3 * math.log(spec.resolution) + 1.5) ** 2) / 20.0
    accuracy = 1.0 / (1.0 + math.exp(-(score + balance - 3.3)))
    epochs = int(settings.get("epochs", 2))
    for epoch in range(1, epochs + 1):
        time.sleep(float(settings.get("seconds_per_epoch", 0.0)))
        on_epoch({"epoch": epoch, "accuracy": accuracy * epoch / epochs, "loss": 1.0 - accuracy, "train_loss": 1.0})
    return {"accuracy": accuracy, "loss": 1.0 - accuracy, "train_loss": 1.0, "epochs": epochs,
            "train_seconds": epochs * float(settings.get("seconds_per_epoch", 0.0)), "device": "none"}


def proxy_objective(spec: ModelSpec, dataset, settings: dict, on_epoch) -> dict:
    """The real thing: a short training of the candidate on the dataset."""
    from scalesearch.proxy import ProxyConfig, train_proxy

    fields = {key: settings[key] for key in ProxyConfig.__dataclass_fields__ if key in settings}
    result = train_proxy(spec, dataset, ProxyConfig(**fields), on_epoch=on_epoch).to_dict()
    result.pop("history")  # already reported epoch by epoch
    result["latency_ms"] = result.pop("latency_ms_batch1")
    return result


OBJECTIVES = {"proxy": proxy_objective, "analytic": analytic_objective}
