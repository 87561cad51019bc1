"""A run's options: their defaults, a --config file or a resumed run's config.yaml, and every check that can
fail before any work starts (one clear message each)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import parse_budget
from scalesearch.foundation.atomic import write_atomically
from scalesearch.study.samplers import SAMPLERS, GridSpec
from scalesearch.foundation.run_files import CONFIG_FILE


@dataclasses.dataclass
class RunOptions:
    """Every option of a run; saved to config.yaml so a run can be repeated exactly."""

    budget: float = 2.0
    space: str = "efficientnet_b0"
    # The default task plants an answer: four of its ten classes are finer than the proxy base's input can hold, so
    # scaling pays and resolution must (docs/data.md, "Planted tasks"). On the first synthetic set nothing did.
    data: str = "synthetic:detail"
    sampler: str = "tpe"
    trials: int | None = None  # proxy trainings; None: the preset's
    out: str | None = None  # run folder; None: reports/<run name>
    name: str | None = None
    constraint: str = "measured"
    tolerance: float = 0.1
    seed: int = 0
    # Seeds per network in the confirm stage (paired); 1: no confirm stage; "auto" (the default): 3, then further
    # rounds for the networks the verdict compares until its comparison is resolved (why it is the default, measured:
    # docs/benchmarks.md §10).
    seeds: int | str = "auto"
    max_seeds: int | None = None  # with seeds "auto": at most this many per network (None: 8)
    confirm: int = 3  # the explore stage's best networks that the confirm stage trains again, beside the references
    tie_break: str = "latency"  # among networks shown as good as the best (verdict.TIE_MARGIN): latency | ... | none
    allow_shrink: bool = False  # the paper requires α, β, γ ≥ 1
    curve: bool = False  # after the verdict: the winner and its rival at φ = curve_phi (the paper's Figure 3)
    curve_phi: str = "0-2"
    references: bool = True
    # A single-dimension explore leader's two compound neighbours are trained before the confirm stage
    # (study/corner.py; why, measured: docs/benchmarks.md §13, the peak worlds)
    corner_check: bool = True
    preset: str = "auto"
    proxy_epochs: int | None = None
    proxy_images: int | None = None
    base_resolution: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    concurrency: int | None = None
    address: str | None = None
    scheduler: str = "none"
    # The explore stage at full length (full) or as successive halving over rungs of fewer epochs (halving):
    # study/halving.py; the rungs from --min-epochs (default: proxy epochs / reduction) up by --reduction.
    fidelity: str = "full"
    min_epochs: int | None = None
    reduction: int = 3
    grid_step: float = GridSpec.step
    grid_alpha: tuple = GridSpec.alpha_range
    grid_beta: tuple = GridSpec.beta_range
    grid_gamma: tuple = GridSpec.gamma_range
    objective: str = "proxy"  # proxy | analytic (a cheap stand-in for tests and dry runs)
    objective_settings: dict = dataclasses.field(default_factory=dict)
    # --tensorboard DIR: every training's learning curve as TensorBoard event files too, one run per training
    # (runs/tensorboard_events.py); learning_curves.csv in the run folder is written either way. Kept absolute, so a
    # resume or a check from another folder writes to the same place.
    tensorboard: str | None = None
    resume: bool = False
    force: bool = False
    verbose: bool = False


def options_from(values: dict) -> RunOptions:
    """RunOptions from the defaults, then a --config file (or a resumed run's config), then the command line."""
    values = dict(values)
    for key in ("handler", "command", "debug"):
        values.pop(key, None)
    merged: dict = {}
    if values.get("resume"):
        values["out"], values["resume"] = values["resume"], True
        saved = Path(values["out"]) / CONFIG_FILE
        if saved.exists():
            # A run from before the corner check resumes as it began, without it: its stages are planned already.
            merged.update({"corner_check": False, **_read_config(saved)})
    if values.get("config"):
        merged.update(_read_config(Path(values.pop("config"))))
    values.pop("config", None)
    merged.update(values)
    fields = {field.name for field in dataclasses.fields(RunOptions)}
    unknown = set(merged) - fields
    if unknown:
        raise InputError(f"unknown option(s) in the config: {', '.join(sorted(unknown))}")
    return RunOptions(**merged)


def _read_config(path: Path) -> dict:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"config file {path} is not readable YAML: {str(error).splitlines()[0]}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InputError(f"config file {path} must hold a mapping of option: value")
    return {str(key).replace("-", "_"): value for key, value in loaded.items()}


def validate(options: RunOptions) -> RunOptions:
    """Every check that can fail before any work starts; one clear message each."""
    from scalesearch.pipeline.objectives import OBJECTIVES

    options.budget = parse_budget(options.budget)
    if options.sampler not in SAMPLERS:
        raise InputError(f"unknown sampler {options.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if options.constraint not in ("measured", "formula"):
        raise InputError(f"unknown constraint {options.constraint!r}; use measured or formula")
    if not (0 < options.tolerance < options.budget - 1):
        raise InputError(f"tolerance {options.tolerance:g} must be above 0 and below budget - 1 ({options.budget - 1:g})")
    if options.trials is not None and options.trials < 1:
        raise InputError(f"--trials must be at least 1, got {options.trials}")
    if options.scheduler not in ("none", "asha"):
        raise InputError(f"unknown scheduler {options.scheduler!r}; use none or asha")
    if options.scheduler == "asha" and options.sampler == "nsga2":
        raise InputError("--scheduler asha needs a single objective; nsga2 has two (accuracy and FLOPs)")
    from scalesearch.study.halving import FIDELITIES, HALVING

    if options.fidelity not in FIDELITIES:
        raise InputError(f"unknown --fidelity {options.fidelity!r}; use {' or '.join(FIDELITIES)}")
    if options.reduction < 2:
        raise InputError(f"--reduction must be at least 2 (each rung keeps 1/reduction of its networks), "
                         f"got {options.reduction}")
    if options.min_epochs is not None and options.min_epochs < 1:
        raise InputError(f"--min-epochs must be at least 1, got {options.min_epochs}")
    if options.fidelity == HALVING and options.scheduler == "asha":
        raise InputError("--fidelity halving and --scheduler asha both stop poor networks early: choose one")
    if options.objective not in OBJECTIVES:
        raise InputError(f"unknown objective {options.objective!r}; use {', '.join(OBJECTIVES)}")
    for name in ("cpus_per_trial", "gpus_per_trial"):
        value = getattr(options, name)
        if value is not None and value < 0:
            raise InputError(f"--{name.replace('_', '-')} must not be negative")
    if options.concurrency is not None and options.concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    from scalesearch.verdict.verdict import TIE_BREAKS

    check_seeds(options)
    if options.confirm < 1:
        raise InputError(f"--confirm must be at least 1, got {options.confirm}")
    if curve_phis(options.curve_phi) and options.curve_phi != RunOptions.curve_phi:
        options.curve = True  # asking for a range asks for the curve
    if options.tie_break not in TIE_BREAKS:
        raise InputError(f"unknown --tie-break {options.tie_break!r}; use {', '.join(TIE_BREAKS)}")
    for name in ("grid_alpha", "grid_beta", "grid_gamma"):
        if min(getattr(options, name)) < 1 and not options.allow_shrink:
            raise InputError(f"{name.replace('_', '-')} starts below 1, which shrinks a dimension; "
                             "the paper requires α, β, γ ≥ 1 (--allow-shrink lifts this)")
    if options.grid_step <= 0:
        raise InputError("--grid-step must be positive")
    cpus = os.cpu_count() or 1
    if not options.address and (options.cpus_per_trial or 1.0) > cpus:  # a local Ray has this machine's CPUs only
        raise InputError(f"--cpus-per-trial {options.cpus_per_trial:g} is more than the {cpus} CPUs of this machine")
    if (options.gpus_per_trial or 0) > 0 and not options.address:
        import torch

        from scalesearch.training.recipe import cuda_on_cpu

        if not torch.cuda.is_available() and not cuda_on_cpu():  # the test aid declares one GPU (pipeline/run.py)
            raise InputError(f"--gpus-per-trial {options.gpus_per_trial:g} asked for, but this machine has no usable GPU")
    if options.tensorboard:  # the package and a writable folder, before any training
        from scalesearch.runs.tensorboard_events import check_logdir

        options.tensorboard = str(check_logdir(options.tensorboard))
    if options.resume and options.force:
        raise InputError("--resume and --force contradict each other: resume keeps the run, force replaces it")
    return options


def check_seeds(options: RunOptions) -> None:
    """--seeds N or auto, and --max-seeds with auto only (verdict/sequential.py); ``options.seeds`` normalised."""
    from scalesearch.verdict.sequential import AUTO, AUTO_FIRST_SEEDS

    seeds = options.seeds
    if isinstance(seeds, str):
        if seeds.strip().lower() == AUTO:
            seeds = AUTO
        else:
            try:
                seeds = int(seeds)
            except ValueError:
                raise InputError(f"--seeds must be a whole number or auto, got {options.seeds!r}") from None
    if seeds != AUTO and seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}")
    options.seeds = seeds
    maximum = options.max_seeds
    if maximum is None:
        return
    if maximum < 1:
        raise InputError(f"--max-seeds must be at least 1, got {maximum}")
    if seeds == AUTO and maximum < AUTO_FIRST_SEEDS:
        raise InputError(f"--seeds auto starts from {AUTO_FIRST_SEEDS} paired seeds, so --max-seeds must be at least "
                         f"{AUTO_FIRST_SEEDS}, got {maximum}")
    if seeds != AUTO and maximum < seeds:
        raise InputError(f"--max-seeds {maximum} is below --seeds {seeds}")
    if seeds != AUTO:
        raise InputError(f"--max-seeds applies to --seeds auto; with --seeds {seeds} every network gets {seeds}")


def seed_plan(options: RunOptions) -> tuple[int, int | None]:
    """(the confirm stage's fixed seeds, the most seeds --seeds auto may give; None for fixed seeds) of valid options."""
    from scalesearch.verdict.sequential import AUTO, AUTO_FIRST_SEEDS, DEFAULT_MAX_SEEDS

    if options.seeds == AUTO:
        return AUTO_FIRST_SEEDS, options.max_seeds or DEFAULT_MAX_SEEDS
    return int(options.seeds), None


def save_config(folder: Path, options: RunOptions) -> None:
    import yaml

    config = dataclasses.asdict(options)
    for key in ("resume", "force", "out"):
        config.pop(key)
    config["grid_alpha"], config["grid_beta"], config["grid_gamma"] = (
        list(options.grid_alpha), list(options.grid_beta), list(options.grid_gamma))
    # Whole or not at all: a resume reads its options from here, and an empty file would mean the defaults.
    write_atomically(folder / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))


def curve_phis(text: str) -> list[int]:
    """``--curve-phi 0-3`` → [0, 1, 2, 3]: at least two φ values, going upwards (one line otherwise)."""
    from scalesearch.model.phis import parse_phis

    try:
        phis = parse_phis(text)
    except InputError as error:
        raise InputError(f"--curve-phi: {error}") from None
    if len(phis) < 2:
        raise InputError(f"--curve-phi {text!r} gives one φ; a curve needs at least two, e.g. 0-2")
    return phis
