"""The latency of the networks tied for the win, timed alone once the trainings are over (for --tie-break latency)."""
from __future__ import annotations

from scalesearch.pipeline.prepare import Prepared


def time_the_tied(study, prepared: Prepared, tie_break: str) -> None:
    """Times the networks tied for the win alone, once the trainings are over, for --tie-break latency: a trial's own
    figure was timed beside other trainings (cost/latency.py). Kept in the study, so a resume does not time again.
    A run on an existing cluster (--address), or a driver that lacks the trials' GPU, leaves the trials' own figures
    to the tie-break: the driver's machine is not the trials'."""
    import warnings

    import torch

    from scalesearch.cost.latency import time_alone
    from scalesearch.pipeline.resources import threads_for
    from scalesearch.study.rebuild import rebuild
    from scalesearch.verdict.verdict import decide

    device, resources = prepared.device, prepared.resources
    if tie_break != "latency" or resources.address or (device == "cuda" and not torch.cuda.is_available()):
        return  # on a cluster or without the trials' GPU, this machine would time the wrong device
    table = study.table()
    verdict = decide(table, tie_break, prepared.search_settings.looks)
    if verdict is None or len(verdict.tied) < 2 or set(verdict.tied) <= set(study.latency_alone()):
        return
    first = table.drop_duplicates("architecture")
    specs = {row["architecture"]: rebuild(prepared.base, row) for _, row in first.iterrows()
             if row["architecture"] in verdict.tied}
    threads = threads_for(resources.cpus_per_trial) if device == "cpu" else torch.get_num_threads()
    try:
        timings = time_alone(specs, prepared.num_classes, torch.device(device), threads)
    except Exception as error:  # e.g. the device busy or out of memory: a finished run is not failed by it
        warnings.warn(f"could not time the {len(specs)} tied networks alone ({type(error).__name__}: {error}); the "
                      "tie-break uses the trials' own latency", stacklevel=2)
        return
    study.record_latency_alone(timings)
