"""The --curve stage after the verdict: the paper's Figure 3 on this run's proxy, trained by the Ray runner."""
from __future__ import annotations

import functools
from pathlib import Path

from scalesearch.pipeline.options import RunOptions
from scalesearch.pipeline.prepare import Prepared


def train_curve(table, options: RunOptions, prepared: Prepared, folder: Path, progress) -> None:
    """The winner and its rival at each φ of --curve-phi (study/curve.py): what it costs is said before it trains."""
    from scalesearch.cost.measure import measure
    from scalesearch.pipeline.objectives import OBJECTIVES
    from scalesearch.pipeline.options import curve_phis
    from scalesearch.pipeline.ray_runner import run_trials
    from scalesearch.pipeline.ray_session import slots
    from scalesearch.foundation.run_files import CURVE_FILE
    from scalesearch.runs.learning_curves import CURVE
    from scalesearch.study.curve import curve_plan
    from scalesearch.study.confirm import judging_seeds
    from scalesearch.study.planned import PlannedTrainings, estimated_seconds
    from scalesearch.verdict.verdict import decide

    verdict = decide(table, options.tie_break, prepared.search_settings.looks)
    if verdict is None:
        return
    phis = curve_phis(options.curve_phi)
    # The winner's own judging seeds: the fixed ones, or as many as --seeds auto gave it.
    seeds = sorted(verdict.winner.seeds) if prepared.search_settings.max_seeds else judging_seeds(
        options.seed, prepared.search_settings.seeds)
    plan, done = curve_plan(table, verdict, prepared.base, phis=phis, seeds=seeds, num_classes=prepared.num_classes,
                            cost=functools.partial(measure, counter="arithmetic"))
    stage = PlannedTrainings(folder / CURVE_FILE, plan, done)
    pending = stage.pending()
    seconds = estimated_seconds(pending, table)
    parallel = slots(prepared.resources)
    cost = (f", about {seconds / 60:.1f} min of training: ~{seconds / parallel / 60:.1f} min on {parallel} slot(s)"
            if seconds is not None else "")
    rival = f" and {verdict.rival.name}" if verdict.rival is not None else ""
    description = (f"the winner {verdict.winner.name}{rival} at φ {phis[0]}–{phis[-1]}, seeds {', '.join(map(str, seeds))}: "
                   f"{len(pending)} trainings to go ({len(plan) - len(pending)} already done){cost}")
    if progress:
        progress.begin_stage("curve", stage, description)
    run_trials(stage, prepared.dataset, OBJECTIVES[options.objective], prepared.trial_settings, prepared.resources, folder,
               on_event=progress.stage_event if progress else None, name="ray-curve", stage=CURVE,
               tensorboard=options.tensorboard)
