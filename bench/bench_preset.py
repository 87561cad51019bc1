"""Seconds and accuracy of one preset's proxy trainings: the base and a few ≈2×-FLOPs candidates.

    python bench/bench_preset.py --preset cpu-tiny --seeds 0 1 2 --threads 1

This is how the cpu-tiny numbers in docs/proxy.md were chosen: a default search runs 2 trials at a
time with 1 torch thread each, so run two copies side by side (e.g. --seeds 0 1 and --seeds 2 3)
to time trials the way a search runs them.
"""
from __future__ import annotations

import argparse
import time

import torch

from scalesearch.data.datasets import load_dataset
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-tiny", choices=list(PRESETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    preset = PRESETS[options.preset]
    base = proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution)
    base_flops = measure(scale(base), 10).flops
    config = ProxyConfig(epochs=preset.epochs, batch_size=preset.batch_size, learning_rate=preset.learning_rate,
                         device=options.device)

    print("| candidate | px | FLOPs × base | seed | accuracy per epoch | train s | trial s (all) | images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in options.seeds:
        started = time.perf_counter()
        dataset = load_dataset("synthetic", proxy_images=preset.proxy_images, val_images=preset.val_images,
                               source_resolution=preset.source_resolution, seed=seed)
        data_seconds = time.perf_counter() - started
        for label, width, depth, resolution in CANDIDATES:
            spec = scale(base, width=width, depth=depth, resolution=resolution)
            started = time.perf_counter()
            result = train_proxy(spec, dataset, ProxyConfig(**{**config.__dict__, "seed": seed}))
            seconds = time.perf_counter() - started
            history = " ".join(f"{record['accuracy']:.3f}" for record in result.history)
            print(f"| {label} | {spec.resolution} | {measure(spec, 10).flops / base_flops:.2f} | {seed} | {history} | "
                  f"{result.train_seconds:.1f} | {seconds:.1f} | {result.images_per_second:.0f} |", flush=True)
        print(f"(seed {seed}: generating the data took {data_seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
