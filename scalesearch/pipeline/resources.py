"""What a trial asks of the machine (``Resources``), where it trains (the device), and its torch threads; from the
run's options, without Ray."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scalesearch.pipeline.options import RunOptions


@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    concurrency: int | None = None  # None: as many as the resources allow
    address: str | None = None  # None: a local Ray started and stopped here
    scheduler: str = "none"  # none | asha


def resources_for(options: RunOptions) -> Resources:
    """What each trial asks of Ray, and where Ray is."""
    return Resources(options.cpus_per_trial or 1.0, gpus_per_trial(options), options.concurrency, options.address,
                     options.scheduler)


def gpus_per_trial(options: RunOptions) -> float:
    """Explicit, or a quarter of a GPU where this machine has one: small proxies share it well."""
    if options.gpus_per_trial is not None:
        return options.gpus_per_trial
    import torch

    return 0.25 if not options.address and torch.cuda.is_available() else 0.0


def declared_gpus(options: RunOptions) -> int | None:
    """One GPU for a local Ray on a machine without one, under the test aid SCALESEARCH_CUDA_ON_CPU=1 only
    (training/recipe.py): trials that ask for GPU fractions then share it as on a GPU machine, and train on the CPU."""
    from scalesearch.training.recipe import cuda_on_cpu

    return 1 if cuda_on_cpu() and not options.address and (options.gpus_per_trial or 0) > 0 else None


def trial_device(resources: Resources) -> str:
    """cuda for a trial that holds a share of a GPU, else cpu."""
    return "cuda" if resources.gpus_per_trial > 0 else "cpu"


def threads_for(cpus: float) -> int:
    """The torch threads of a trial given ``cpus`` CPUs (Ray's fractional CPUs included: at least one)."""
    return max(1, int(math.floor(cpus)))
