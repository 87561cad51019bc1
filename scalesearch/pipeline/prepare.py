"""What a run and its fidelity check build from the options before any work (``prepare`` → ``Prepared``): the proxy
base and its cost, the data, the trials' settings and resources, the study's settings; checked, folder untouched."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import SearchSpace, load_space
from scalesearch.pipeline.options import RunOptions, seed_plan
from scalesearch.pipeline.resources import Resources, declared_gpus, resources_for, trial_device
from scalesearch.study.samplers import GridSpec
from scalesearch.study.settings import SearchSettings
from scalesearch.training.presets import Preset, resolve_preset

if TYPE_CHECKING:  # these import torch: made where they are used
    from scalesearch.cost.measure import Measurement
    from scalesearch.data.datasets import Dataset


@dataclasses.dataclass(frozen=True)
class Prepared:
    resources: Resources
    declared_gpus: int | None  # GPUs a local Ray declares whatever the machine has (a test aid; None: what it has)
    device: str  # the trials' device: cuda or cpu
    preset: Preset
    dataset: Dataset | None  # None for the analytic objective
    trial_settings: dict  # what every trial's objective is given (epochs, batch size, learning rate, device, …)
    base: SearchSpace  # the φ=0 network the proxies scale from
    base_cost: Measurement  # the base's, by the candidates' own counter
    num_classes: int
    search_settings: SearchSettings

    @property
    def trials(self) -> int:
        return self.search_settings.trials


def prepare(options: RunOptions) -> Prepared:
    """Everything ``options`` (validated) make before the folder is touched or Ray starts; a bad setting is refused
    here, in one line."""
    from scalesearch.cost.measure import measure

    full_space = load_space(options.space)
    resources = resources_for(options)
    device = trial_device(resources)
    preset, dataset, settings = _data(options, device)
    if device == "cuda" and options.objective != "analytic":  # a set larger than half its share is streamed
        settings.setdefault("gpu_share", resources.gpus_per_trial)
    base = proxy_base(full_space, preset.base_width, preset.base_depth, options.base_resolution or preset.base_resolution)
    num_classes = dataset.num_classes if dataset is not None else 10
    base_cost = measure(scale(base), num_classes, counter="arithmetic")  # the candidates' own counter (cost/measure.py)
    rungs = _rungs(options, int(settings["epochs"]))
    return Prepared(resources, declared_gpus(options), device, preset, dataset, settings, base, base_cost, num_classes,
                    search_settings_of(options, preset, num_classes, rungs))


def search_settings_of(options: RunOptions, preset: Preset, num_classes: int,
                       rungs: tuple[int, ...] = ()) -> SearchSettings:
    """The study's settings from valid ``options`` under ``preset``: the run's, and the replay benches'
    (bench/run_knobs.py), so that a replayed run is searched as a real one is."""
    seeds, max_seeds = seed_plan(options)
    return SearchSettings(
        budget=options.budget, tolerance=options.tolerance, constraint=options.constraint, sampler=options.sampler,
        trials=options.trials or preset.trials, seed=options.seed, references=options.references,
        num_classes=num_classes,
        grid=GridSpec(tuple(options.grid_alpha), tuple(options.grid_beta), tuple(options.grid_gamma), options.grid_step),
        seeds=seeds, max_seeds=max_seeds, confirm=options.confirm, allow_shrink=options.allow_shrink,
        tie_break=options.tie_break, rungs=rungs, reduction=options.reduction, corner_check=options.corner_check,
    )


def _rungs(options: RunOptions, epochs: int) -> tuple[int, ...]:
    """--fidelity halving's rungs in epochs (study/halving.py), () at full fidelity; a --min-epochs that leaves
    nothing to halve is refused."""
    from scalesearch.study.halving import HALVING, rungs_for

    if options.fidelity != HALVING:
        return ()
    if options.min_epochs is not None and options.min_epochs >= epochs:
        raise InputError(f"--min-epochs {options.min_epochs} must be below the proxy's {epochs} epochs: "
                         "halving needs a shorter rung than the proxy")
    rungs = rungs_for(epochs, options.reduction, options.min_epochs)
    if len(rungs) < 2:
        raise InputError(f"a {epochs}-epoch proxy has no shorter rung to halve from: use more --proxy-epochs or "
                         "--fidelity full")
    return rungs


def _data(options: RunOptions, device: str):
    """(the preset, the dataset or None for the analytic objective, the trials' settings), checked."""
    preset = resolve_preset(options.preset, device)
    settings = {"epochs": options.proxy_epochs or preset.epochs, "batch_size": preset.batch_size,
                "learning_rate": preset.learning_rate, "device": device}
    settings.update(options.objective_settings)
    if options.objective == "analytic":
        return preset, None, settings
    from scalesearch.training.proxy import proxy_config

    proxy_config(settings)  # an unknown or bad proxy setting is refused here, in one line, before any work
    from scalesearch.data.datasets import load_dataset

    dataset = load_dataset(options.data, proxy_images=options.proxy_images or preset.proxy_images,
                           val_images=preset.val_images, source_resolution=preset.source_resolution, seed=options.seed)
    return preset, dataset, settings
