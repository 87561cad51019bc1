"""Does scaling pay on a task, and which dimension? The base (φ = 0) and the depth-, width-, resolution-only, the
paper's and dWr's lines at φ = 1 and 2 (2× and 4× the base's measured FLOPs), trained with paired seeds by the tool's
own ``train_proxy`` (issue 19 §4–§5; results in docs/benchmarks.md §11).

    python bench/bench_planted.py --data synthetic:detail --seeds 0 1 2 --jobs 2
    python bench/bench_planted.py --data synthetic --preset cpu-tiny --phis 0 2 --json /tmp/planted.jsonl

Each line's network at φ is the tool's own reference in that direction (``evaluate_along``: (α^t, β^t, γ^t) with
the measured FLOPs closest to 2^φ × the base's), so "resolution at φ = 2" is the resolution-only network at 4×.
Seed s picks the data (as ``scalesearch run --seed`` does) and the training's randomness; every network is trained
on every seed, so differences are paired. Per line and φ: mean accuracy ± sd over seeds; last, for the best line at
the largest φ, its paired gain over the base with a 95% t-interval, and that gain in units of the pooled seed sd
(the root mean of the points' seed variances), the figure issue 19 §5 asks to exceed 3.

Design overrides (--images, --val, --epochs, --base-px, --source-px, --width, --depth, --lr) change the preset for
this bench only, to measure candidates for a new default before one is chosen.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import lru_cache

LINES = ("depth-only", "width-only", "resolution-only", "paper", "dWr")


def _preset(options):
    from scalesearch.training.presets import PRESETS

    chosen = PRESETS[options.preset]
    overrides = {"proxy_images": options.images, "val_images": options.val, "epochs": options.epochs,
                 "base_resolution": options.base_px, "source_resolution": options.source_px,
                 "base_width": options.width, "base_depth": options.depth, "learning_rate": options.lr,
                 "batch_size": options.batch}
    return replace(chosen, **{key: value for key, value in overrides.items() if value is not None})


def networks(preset, data_classes: int, phis: list[int], lines: list[str]) -> dict:
    """(line, φ) → ModelSpec dict: the base at φ = 0, each line's reference network at 2^φ × the base's FLOPs."""
    from scalesearch.cost.measure import measure
    from scalesearch.model.scaling import proxy_base, scale
    from scalesearch.model.spaces import load_space
    from scalesearch.study.feasibility import evaluate_along
    from scalesearch.study.samplers import reference_points

    base = proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution)
    base_flops = measure(scale(base), data_classes).flops
    chosen = {("base", 0): scale(base).to_dict()}
    references = {reference.label: reference for reference in reference_points("efficientnet_b0", 2.0, "measured")}
    for line in lines:
        reference = references[line]
        for phi in phis:
            if phi == 0:
                continue
            candidate = evaluate_along(base, base_flops, reference.alpha, reference.beta, reference.gamma,
                                       budget=2.0 ** phi, tolerance=0.1, num_classes=data_classes)
            chosen[(line, phi)] = candidate.spec.to_dict()
    return chosen


@lru_cache(maxsize=2)
def _dataset(data: str, preset, seed: int):
    from scalesearch.data.datasets import load_dataset

    return load_dataset(data, proxy_images=preset.proxy_images, val_images=preset.val_images,
                        source_resolution=preset.source_resolution, seed=seed)


def _train(job):
    import torch

    from scalesearch.model.scaling import ModelSpec
    from scalesearch.training.proxy import ProxyConfig, train_proxy

    data, preset, key, spec, seed = job
    torch.set_num_threads(1)  # as a search gives each trial on a CPU
    config = ProxyConfig(epochs=preset.epochs, batch_size=preset.batch_size, learning_rate=preset.learning_rate,
                         seed=seed, device="cpu")
    started = time.process_time()
    result = train_proxy(ModelSpec.from_dict(spec), _dataset(data, preset, seed), config)
    return {"line": key[0], "phi": key[1], "seed": seed, "accuracy": result.accuracy,
            "resolution": spec["resolution"], "train_seconds": result.train_seconds,
            "cpu_seconds": time.process_time() - started}


def best_gain(rows: list[dict]) -> dict | None:
    """The best line at the largest φ against the base, paired over seeds: its gain with a 95% t-interval, and the
    gain in pooled seed sds (the root mean of every point's seed variance); None without a base or a line."""
    from scipy import stats

    points = _points(rows)
    variances = [statistics.variance(list(v.values())) for v in points.values() if len(v) > 1]
    pooled = math.sqrt(statistics.fmean(variances)) if variances else float("nan")
    top_phi = max(phi for _, phi in points)
    base = points.get(("base", 0), {})
    best = max((key for key in points if key[1] == top_phi and key[0] != "base"),
               key=lambda key: statistics.fmean(points[key].values()), default=None)
    if best is None or not base:
        return None
    paired = [points[best][seed] - base[seed] for seed in points[best] if seed in base]
    gain = statistics.fmean(paired)
    half = (stats.t.ppf(0.975, len(paired) - 1) * statistics.stdev(paired) / math.sqrt(len(paired))
            if len(paired) > 1 else float("inf"))
    return {"line": best[0], "phi": top_phi, "gain": gain, "low": gain - half, "high": gain + half,
            "n": len(paired), "pooled_sd": pooled, "gain_in_pooled_sd": gain / pooled}


def _points(rows: list[dict]) -> dict[tuple, dict[int, float]]:
    points: dict[tuple, dict[int, float]] = {}
    for row in rows:
        points.setdefault((row["line"], row["phi"]), {})[row["seed"]] = row["accuracy"]
    return points


def summarise(rows: list[dict]) -> list[str]:
    points = _points(rows)
    lines = [f"{'line':<16} {'φ':>2} {'accuracy':>15} {'n':>2}"]
    for (line, phi), by_seed in sorted(points.items(), key=lambda item: (item[0][1], item[0][0])):
        values = list(by_seed.values())
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(f"{line:<16} {phi:>2} {statistics.fmean(values):>8.3f} ± {sd:.3f} {len(values):>2}")
    best = best_gain(rows)
    if best is None:
        return lines
    interval = (f"[{best['low']:+.3f}, {best['high']:+.3f}]" if best["n"] > 1 else "(n=1: no interval)")
    lines.append(f"pooled seed sd {best['pooled_sd']:.3f}; best line at φ={best['phi']}: {best['line']} "
                 f"{best['gain']:+.3f} over the base (paired, n={best['n']}, 95% t {interval}) = "
                 f"{best['gain_in_pooled_sd']:.1f} pooled sd")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="synthetic or synthetic:VARIANT")
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--phis", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lines", nargs="+", default=list(LINES), choices=LINES)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="append one JSON line per training (a cut-short bench keeps what it measured)")
    for flag, kind in (("--images", int), ("--val", int), ("--epochs", int), ("--base-px", int),
                       ("--source-px", int), ("--width", float), ("--depth", float), ("--lr", float),
                       ("--batch", int)):
        parser.add_argument(flag, type=kind)
    options = parser.parse_args()
    preset = _preset(options)
    from scalesearch.data.datasets import load_dataset

    classes = load_dataset(options.data, proxy_images=20 * 15, val_images=20, source_resolution=16).num_classes
    chosen = networks(preset, classes, options.phis, options.lines)
    print(f"{options.data} on {preset}; load average {os.getloadavg()[0]:.1f}", flush=True)
    for key, spec in chosen.items():
        print(f"  {key[0]} φ={key[1]}: {spec['resolution']} px", flush=True)
    # Seed-major order: a cut-short bench has whole seeds, so its differences stay paired.
    jobs = [(options.data, preset, key, spec, seed) for seed in options.seeds for key, spec in chosen.items()]
    rows = []
    with ProcessPoolExecutor(options.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for row in pool.map(_train, jobs):
            rows.append(row)
            print(f"{row['line']:<16} φ={row['phi']} seed {row['seed']}: {row['accuracy']:.3f} "
                  f"({row['resolution']} px, {row['cpu_seconds']:.1f} CPU s)", flush=True)
            if options.json:
                with open(options.json, "a") as handle:
                    handle.write(json.dumps({**row, "data": options.data, "preset": repr(preset)}) + "\n")
    print("\n".join(summarise(rows)))


if __name__ == "__main__":
    main()
