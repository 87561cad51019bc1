"""Seconds and accuracy of one preset's proxy trainings: the base and a few ≈2×-FLOPs candidates.

    python bench/bench_preset.py --preset cpu-tiny --seeds 0 1 2 --threads 1
    python bench/bench_preset.py --preset gpu-small --device cuda --only "paper 2x" --seeds 0 1 2 --json F

This is how the cpu-tiny numbers in docs/proxy.md were chosen: a default search runs 2 trials at a
time with 1 torch thread each, so run two copies side by side (e.g. --seeds 0 1 and --seeds 2 3)
to time trials the way a search runs them.

"paper 2x" is the paper's point (α, β, γ) = (1.2, 1.1, 1.15) at 2× the base's measured FLOPs, γ solved as a
measured-mode search does. Each training prints one row (with its peak GPU memory on CUDA) and, with --json,
appends one JSON line, so a run cut short keeps what it measured; the last lines give each candidate's accuracy
mean and sd over the seeds (bench/gpu_check.sh reports them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import common
import data_cache
from scalesearch.cost.measure import measure
from scalesearch.training.presets import PRESETS
from scalesearch.training.proxy import ProxyConfig, train_proxy
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space

# (label, width, depth, resolution multipliers), chosen near 2× measured FLOPs of cpu-tiny's base.
CANDIDATES = [
    ("base", 1.0, 1.0, 1.0),
    ("resolution ×1.25", 1.0, 1.0, 1.25),
    ("width ×1.25", 1.25, 1.0, 1.0),
    ("depth ×2", 1.0, 2.0, 1.0),
    ("width ×1.1, resolution ×1.15", 1.1, 1.0, 1.15),
]
PAPER = "paper 2x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-tiny", choices=list(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="+", help=f"these candidates only (labels, or {PAPER!r})")
    parser.add_argument("--epochs", type=int, help="instead of the preset's")
    parser.add_argument("--proxy-images", type=int, help="instead of the preset's")
    parser.add_argument("--val-images", type=int, help="instead of the preset's")
    parser.add_argument("--data-seed", type=int, help="one dataset, generated with this seed, for every seed's "
                        "training (as a run's seeds share its data); default: each seed its own data")
    parser.add_argument("--json", help="append one JSON line per training, and one summary line, to this file")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    preset = PRESETS[options.preset]
    base = proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution)
    base_flops = measure(scale(base), 10).flops
    epochs = options.epochs or preset.epochs
    config = ProxyConfig(epochs=epochs, batch_size=preset.batch_size, learning_rate=preset.learning_rate,
                         device=options.device)
    candidates = {label: scale(base, width=width, depth=depth, resolution_ratio=resolution)
                  for label, width, depth, resolution in CANDIDATES}
    if options.only:
        if PAPER in options.only:
            candidates[PAPER] = common.candidate("efficientnet_b0", preset.name, 1.2, 1.1, 1.15).spec
        unknown = set(options.only) - set(candidates)
        if unknown:
            parser.error(f"unknown candidate(s) {sorted(unknown)}; known: {sorted(candidates)}")
        candidates = {label: candidates[label] for label in options.only}
    proxy_images = options.proxy_images or preset.proxy_images
    val_images = options.val_images or preset.val_images

    print(f"machine: {common.machine()}; preset {preset.name}, {epochs} epochs, "
          f"{proxy_images or 'all'} / {val_images or 'all'} images")
    print("| candidate | px | FLOPs × base | seed | accuracy per epoch | train s | trial s (all) | images/s | peak GiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    trainings = []
    for seed in options.seeds:
        started = time.perf_counter()
        data_seed = seed if options.data_seed is None else options.data_seed
        dataset = data_cache.synthetic(proxy_images, val_images, preset.source_resolution, seed=data_seed)
        data_seconds = time.perf_counter() - started
        for label, spec in candidates.items():
            started = time.perf_counter()
            result = train_proxy(spec, dataset, ProxyConfig(**{**config.__dict__, "seed": seed}))
            seconds = time.perf_counter() - started
            history = " ".join(f"{record['accuracy']:.3f}" for record in result.history)
            flops = measure(spec, 10).flops / base_flops
            peak = result.peak_memory_bytes / 2**30 if result.peak_memory_bytes is not None else None
            print(f"| {label} | {spec.resolution} | {flops:.2f} | {seed} | {history} | "
                  f"{result.train_seconds:.1f} | {seconds:.1f} | {result.images_per_second:.0f} | "
                  f"{'–' if peak is None else f'{peak:.2f}'} |", flush=True)
            training = {"bench": "preset", "preset": preset.name, "candidate": label, "resolution": spec.resolution,
                        "flops_ratio": flops, "seed": seed, "epochs": result.epochs, "accuracy": result.accuracy,
                        "train_seconds": result.train_seconds, "trial_seconds": seconds,
                        "images_per_second": result.images_per_second, "peak_memory_bytes": result.peak_memory_bytes,
                        "device": result.device, "recipe": result.recipe, "machine": common.machine()}
            trainings.append(training)
            _append(options.json, training)
        print(f"(seed {seed}: the data took {data_seconds:.1f} s)", flush=True)
    for label in candidates:
        accuracies = [training["accuracy"] for training in trainings if training["candidate"] == label]
        seconds = [training["trial_seconds"] for training in trainings if training["candidate"] == label]
        sd = statistics.stdev(accuracies) if len(accuracies) > 1 else None
        print(f"{label}: accuracy {statistics.fmean(accuracies):.3f}, sd {'–' if sd is None else f'{sd:.3f}'} "
              f"over {len(accuracies)} seeds; {statistics.fmean(seconds):.1f} s a trial")
        _append(options.json, {"bench": "preset-summary", "preset": preset.name, "candidate": label,
                               "seeds": len(accuracies), "accuracy_mean": statistics.fmean(accuracies),
                               "accuracy_sd": sd, "trial_seconds_mean": statistics.fmean(seconds)})


def _append(path: str | None, record: dict) -> None:
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
