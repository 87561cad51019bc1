"""A test aid: the analytic objective, an instant stand-in for the proxy training, with the faults the fault-injection
suite plants (a raise, a NaN, an out-of-memory, a SIGKILL) and the training log it counts trainings by.

``--objective analytic`` runs it (tests and dry runs); a real search never does.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import signal
import time

from scalesearch.model.scaling import ModelSpec


def analytic_objective(spec: ModelSpec, dataset, settings: dict, on_epoch) -> dict:
    """A deterministic, instant stand-in for training (tests and dry runs): a smooth,
    made-up accuracy that rewards a balance of depth, width and resolution.

    Settings, for tests:
    ``seconds_per_epoch`` makes it slow, to test interruption;
    ``fail_if_resolution_above`` makes large candidates fail as a NaN loss does;
    ``training_log`` (a path) gets one JSON line when each training starts and one when it ends, so a test
    can count real trainings across kills and resumes;
    ``faults`` ({N: kind}, needs ``training_log``) makes the N-th training of that log fail (see FAULTS);
    ``seed_noise`` adds a made-up, repeatable effect of up to that size for each seed and length of training (the
    verdict's intervals need spread; a longer training reshuffles it, as the fidelity check must see);
    ``flat`` gives every network the same accuracy before that effect (a world with no difference: with a small
    ``seed_noise`` the seeds show the networks as good as each other, so the tie-break has a tie to break)."""
    threshold = settings.get("fail_if_resolution_above")
    if threshold is not None and spec.resolution > threshold:
        raise FloatingPointError("loss became nan (analytic objective told to fail)")
    log = settings.get("training_log")
    ordinal = _log_training(log, "start", spec, settings) if log else 0
    fault = {int(key): value for key, value in (settings.get("faults") or {}).items()}.get(ordinal)
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown analytic fault {fault!r}; use {', '.join(FAULTS)}")
    blocks = sum(stage.repeats for stage in spec.stages)
    width = sum(stage.channels for stage in spec.stages)
    score = (math.log(blocks) + 0.8 * math.log(width) + 1.5 * math.log(spec.resolution)) / 3.0
    balance = -((math.log(blocks) - 1.3 * math.log(spec.resolution) + 1.5) ** 2) / 20.0
    accuracy = 0.7 if settings.get("flat") else 1.0 / (1.0 + math.exp(-(score + balance - 3.3)))
    from scalesearch.training.proxy import ProxyConfig

    epochs = int(settings.get("epochs", ProxyConfig.epochs))  # the proxy's length unless told: one owner
    if settings.get("seed_noise"):
        import random

        accuracy += float(settings["seed_noise"]) * random.Random(f"{settings.get('seed')}:{epochs}:{spec.architecture()}").uniform(-1, 1)
    for epoch in range(1, epochs + 1):
        if fault in ("raise", "oom", "cuda-oom", "killed"):
            FAULTS[fault](ordinal)  # at the first step, where a real training meets these
        time.sleep(float(settings.get("seconds_per_epoch", 0.0)))
        if fault == "nan":
            FAULTS[fault](epoch)  # the proxy checks its losses at the end of each epoch
        on_epoch({"epoch": epoch, "accuracy": accuracy * epoch / epochs, "loss": 1.0 - accuracy, "train_loss": 1.0})
    if fault == "nan-result":
        accuracy = math.nan
    if log:
        _log_training(log, "end", spec, settings, ordinal)
    return {"accuracy": accuracy, "loss": 1.0 - accuracy, "train_loss": 1.0, "epochs": epochs,
            "train_seconds": epochs * float(settings.get("seconds_per_epoch", 0.0)), "device": "none"}


def _raise(ordinal: int):
    raise RuntimeError(f"analytic objective told to raise at training {ordinal}")


def _nan_loss(epoch: int):
    from scalesearch.training.proxy import TrialFailed

    raise TrialFailed(f"loss became nan at epoch {epoch} step 1")  # what train_proxy raises (_check_finite)


def _out_of_memory(ordinal: int):
    import torch

    torch.empty(2**62, dtype=torch.uint8)  # a real refusal of the CPU allocator (RuntimeError, error code 12)


def _cuda_out_of_memory(ordinal: int):
    import torch

    # What the CUDA caching allocator raises (torch.OutOfMemoryError, a RuntimeError), built without a GPU.
    raise torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.10 GiB of which "
        "1.06 GiB is free. Of the allocated memory 76.50 GiB is allocated by PyTorch.")


def _killed(ordinal: int):
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer ends a process: no exception, no report


# How the N-th training of ``faults`` fails. nan-result returns accuracy NaN instead of raising (the proxy
# itself raises on a non-finite loss, as "nan" does; nan-result stands for any other objective).
FAULTS = {"raise": _raise, "nan": _nan_loss, "nan-result": None, "oom": _out_of_memory,
          "cuda-oom": _cuda_out_of_memory, "killed": _killed}


def _log_training(path: str, event: str, spec: ModelSpec, settings: dict, ordinal: int | None = None) -> int:
    """Appends one line to the training log under an exclusive lock (trials run in parallel processes);
    a start is numbered 1, 2, ... in the order of the log."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if ordinal is None:
            handle.seek(0)
            ordinal = 1 + sum(1 for line in handle if '"event": "start"' in line)
        record = {"event": event, "training": ordinal, "pid": os.getpid(), "time": time.time(),
                  "architecture": spec.architecture(),  # the table's: a duplicate of a network shares it
                  "resolution": spec.resolution, "seed": settings.get("seed"), "epochs": settings.get("epochs")}
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return ordinal
