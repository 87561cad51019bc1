"""The run.json record of a run that starts: its options, what was prepared from them, the study's plan and
provenance, in one call."""
from __future__ import annotations

import dataclasses

from scalesearch.foundation.status import RunStatus
from scalesearch.pipeline.options import RunOptions
from scalesearch.pipeline.prepare import Prepared
from scalesearch.pipeline.provenance import machine, now, versions
from scalesearch.study.halving import rung_plan
from scalesearch.runs.record import ProxyBase, RunRecord

# The options run.json repeats as they were given.
OPTIONS_RECORDED = ("space", "budget", "tolerance", "constraint", "sampler", "seed", "confirm", "tie_break",
                    "allow_shrink", "objective")
PROXY_SETTINGS = ("epochs", "batch_size", "learning_rate")  # the trials' settings run.json shows


def starting_record(options: RunOptions, prepared: Prepared, study, *, name: str, command: str | None,
                    previous: RunRecord) -> RunRecord:
    """The record of the run named ``name`` as it starts (status running); ``previous`` is the record of the run it
    resumes (an empty one for a new run): its command and start time are kept."""
    base, cost, dataset = prepared.base, prepared.base_cost, prepared.dataset
    settings = prepared.search_settings
    plan = rung_plan(settings.trials, settings.rungs, settings.reduction, settings.confirm)
    most = study.training_plan()
    return RunRecord(
        **{key: getattr(options, key) for key in OPTIONS_RECORDED},
        name=name, status=RunStatus.RUNNING, command=command or previous.command, trials=prepared.trials,
        num_classes=prepared.num_classes, device=prepared.device,
        seeds=prepared.search_settings.seeds, max_seeds=prepared.search_settings.max_seeds,
        proxy_base=ProxyBase(width=prepared.preset.base_width, depth=prepared.preset.base_depth,
                             resolution=base.resolution, flops=cost.flops, params=cost.params,
                             activations=cost.activations),
        data=dataset.describe() if dataset is not None else f"none ({options.objective} objective)",
        preset=dataclasses.asdict(prepared.preset),
        proxy={key: prepared.trial_settings[key] for key in PROXY_SETTINGS if key in prepared.trial_settings},
        started=previous.started or now(), resumed=bool(options.resume),
        versions=versions(), machine=machine(), grid=study.grid_summary(),
        max_trainings=most.total, references=most.references, max_confirm=most.confirm,
        corner_neighbours=most.neighbours,
        rungs=[list(rung) for rung in plan] or None,
    )
