"""What the evidence benchmarks share: a preset's proxy set-up, seeded datasets, candidates at the
measured budget, and a memo of proxy trainings on disk.

On a CPU a proxy training is deterministic for a given network, seed and length, so the memo
lets the benchmarks share trainings (and a killed benchmark resume) without changing any figure.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import torch

from scalesearch.data.datasets import load_dataset
from scalesearch.study.feasibility import Candidate, evaluate, evaluate_along
from scalesearch.cost.measure import measure
from scalesearch.training.presets import PRESETS, Preset
from scalesearch.training.proxy import ProxyConfig, train_proxy
from scalesearch.study.samplers import reference_points
from scalesearch.model.scaling import ModelSpec, proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.foundation.table import RESULT_FIELDS
from scalesearch.pipeline.options import RunOptions
from scalesearch.study.search_study import SearchStudy
from scalesearch.study.settings import SearchSettings

DEFAULT_MEMO = Path(os.environ.get("SCALESEARCH_BENCH_MEMO", Path.home() / ".cache/scalesearch/bench-trainings.jsonl"))
NUM_CLASSES = 10  # the synthetic sets
DEFAULT_DATA = RunOptions().data  # a default run's: what "the default task" means in every benchmark


def machine() -> str:
    """One line for the docs: CPU model and count, torch version, load average now."""
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name"))
    except (StopIteration, OSError):
        model = platform.processor() or platform.machine()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return f"{model}, {os.cpu_count()} CPUs{gpu}; torch {torch.__version__}; load average {os.getloadavg()[0]:.1f}"


def preset(name: str) -> Preset:
    """A preset by name; ``NAME@40px`` is that preset on a proxy base of another resolution
    (images stored at ≥ 1.5 × it, as every preset does)."""
    name, _, pixels = name.partition("@")
    chosen = PRESETS[name]
    if pixels:
        size = int(pixels.removesuffix("px"))
        chosen = replace(chosen, name=f"{name}@{size}px", base_resolution=size,
                         source_resolution=max(chosen.source_resolution, math.ceil(1.5 * size)))
    return chosen


@lru_cache(maxsize=None)
def proxy_setup(space_name: str, preset_name: str):
    """(proxy base space, its measured FLOPs) for a preset, as a search builds them."""
    chosen = preset(preset_name)
    base = proxy_base(load_space(space_name), chosen.base_width, chosen.base_depth, chosen.base_resolution)
    return base, measure(scale(base), NUM_CLASSES).flops


def candidate(space_name: str, preset_name: str, alpha: float, beta: float, gamma: float, *, budget: float = 2.0,
              tolerance: float = 0.1, solve_resolution: bool = True) -> Candidate:
    """The φ=1 candidate as a measured-mode search sees it (γ re-solved unless ``solve_resolution`` is off)."""
    base, base_flops = proxy_setup(space_name, preset_name)
    return evaluate(base, base_flops, alpha, beta, gamma, budget=budget, tolerance=tolerance, constraint="measured",
                    num_classes=NUM_CLASSES, solve_resolution=solve_resolution)


def single_dimension(space_name: str, preset_name: str, budget: float = 2.0, tolerance: float = 0.1) -> dict:
    """label → Candidate of the tool's own depth-, width- and resolution-only references."""
    base, base_flops = proxy_setup(space_name, preset_name)
    return {reference.label: evaluate_along(base, base_flops, reference.alpha, reference.beta, reference.gamma,
                                            budget=budget, tolerance=tolerance, num_classes=NUM_CLASSES)
            for reference in reference_points(space_name, budget, "measured") if reference.solve == "along"}


@lru_cache(maxsize=4)
def dataset(preset_name: str, seed: int, data: str = DEFAULT_DATA):
    chosen = preset(preset_name)
    return load_dataset(data, proxy_images=chosen.proxy_images, val_images=chosen.val_images,
                        source_resolution=chosen.source_resolution, seed=seed)


def _key(spec: ModelSpec, preset_name: str, seed: int, epochs: int, device: str, data: str) -> str:
    identity = (spec.architecture_key(), spec.dropout, spec.drop_connect, preset_name, seed, epochs, device, data)
    return hashlib.sha1(repr(identity).encode()).hexdigest()


class Trainer:
    """``train(spec, seed, epochs)`` → the proxy's result dict, from the memo when it has it.

    The seed picks the data subset and the training's randomness, as ``scalesearch run --seed`` does; ``data`` is a
    run's ``--data`` (the default task unless told)."""

    def __init__(self, preset_name: str = "cpu-tiny", device: str = "cpu", memo: Path = DEFAULT_MEMO, threads: int = 1,
                 data: str = DEFAULT_DATA):
        self.preset_name, self.device, self.memo, self.data = preset_name, device, Path(memo), data
        self.memo.parent.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(threads)  # as a search gives each trial on a CPU

    def _lookup(self, key: str) -> dict | None:
        if not self.memo.exists():
            return None
        for line in self.memo.read_text().splitlines():
            record = json.loads(line)
            if record["key"] == key:
                return record
        return None

    def train(self, spec: ModelSpec, seed: int, epochs: int | None = None) -> dict:
        chosen = preset(self.preset_name)
        epochs = epochs or chosen.epochs
        key = _key(spec, self.preset_name, seed, epochs, self.device, self.data)
        found = self._lookup(key)
        if found is not None:
            return {**found, "memo": True}
        config = ProxyConfig(epochs=epochs, batch_size=chosen.batch_size, learning_rate=chosen.learning_rate,
                             seed=seed, device=self.device)
        result = train_proxy(spec, dataset(self.preset_name, seed, self.data), config)
        record = {"key": key, "accuracy": result.accuracy, "loss": result.loss, "train_seconds": result.train_seconds,
                  "resolution": spec.resolution, "seed": seed, "epochs": epochs, "data": self.data,
                  "load": os.getloadavg()[0]}
        with self.memo.open("a") as handle:  # several benchmark processes may share the memo
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(record) + "\n")
        return {**record, "memo": False}


def sequential_search(space_name: str, trainer: Trainer, run_dir: Path, *, sampler: str, sampler_seed: int,
                      trials: int, budget: float = 2.0, references: bool = False, training_seed: int = 0,
                      epochs: int | None = None):
    """The tool's search (the same SearchStudy: proposals, feasibility, duplicates) without Ray, one
    training at a time through the memo. The training seed is fixed apart from the sampler's seed, so
    samplers differ only in what they propose and a network is trained once for all of them.
    Returns the study's table, in trial order."""
    base, base_flops = proxy_setup(space_name, trainer.preset_name)
    settings = SearchSettings(budget=budget, sampler=sampler, trials=trials, seed=sampler_seed,
                              references=references, num_classes=NUM_CLASSES)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    study = SearchStudy(Path(run_dir), base, base_flops, settings)
    while (proposal := study.propose(max_attempts=200)) is not None:
        result = trainer.train(ModelSpec.from_dict(proposal.spec), training_seed, epochs)
        study.complete(proposal.trial, {key: result.get(key) for key in RESULT_FIELDS})
    return study.table().sort_values("trial").reset_index(drop=True)


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)
