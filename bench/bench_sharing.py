"""Aggregate training throughput when 1, 2 or 4 proxy trials share one device (the issue's GPU question:
does a fractional --gpus-per-trial pay?). Each trial is its own process, as under Ray; all start
together at a barrier and trains the same number of steps, so their training overlaps; aggregate images/s is the
sum of the trials' own training images/s (`train_proxy` counts training steps only, not validation).

    python bench/bench_sharing.py --device cuda --preset gpu-small --trials 1 2 4 --steps 200
    python bench/bench_sharing.py --device cpu --preset cpu-tiny --trials 1 2 --steps 40   # the same on CPU cores

On a CPU each process gets one torch thread, so the CPU rows show how trials share cores, not a GPU.
All trials train on the same data (generated once, as a run's trials share one dataset), each with its own seed.
``--json PATH`` appends one line of the figures (bench/gpu_check.sh reads it).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import tempfile

import common
import data_cache


def one_trial(preset_name: str, device: str, steps: int, seed: int, barrier, results) -> None:
    import torch

    from scalesearch.training.proxy import ProxyConfig, train_proxy
    from scalesearch.model.scaling import scale

    torch.set_num_threads(1)
    chosen = common.preset(preset_name)
    base, _ = common.proxy_setup("efficientnet_b0", preset_name)
    dataset = data_cache.synthetic(chosen.proxy_images, chosen.val_images, chosen.source_resolution)
    config = ProxyConfig(epochs=1000, batch_size=chosen.batch_size, learning_rate=chosen.learning_rate, seed=seed,
                         device=device, max_steps=steps)
    train_proxy(scale(base), dataset, ProxyConfig(**{**config.__dict__, "max_steps": 2}))  # warm-up: kernels, allocator
    barrier.wait()
    results.put(train_proxy(scale(base), dataset, config).images_per_second)


def aggregate(preset_name: str, device: str, trials: int, steps: int) -> float:
    context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    barrier, results = context.Barrier(trials), context.Queue()
    workers = [context.Process(target=one_trial, args=(preset_name, device, steps, seed, barrier, results))
               for seed in range(trials)]
    for worker in workers:
        worker.start()
    finished = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(finished)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=40, help="training steps per trial (excluding validation)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="append the figures as one JSON line to this file")
    options = parser.parse_args()
    # Generated here once; every trial process loads it from the folder.
    own_folder = None if os.environ.get(data_cache.FOLDER) else tempfile.mkdtemp(prefix="bench-sharing-")
    os.environ.setdefault(data_cache.FOLDER, own_folder or "")
    chosen = common.preset(options.preset)
    data_cache.synthetic(chosen.proxy_images, chosen.val_images, chosen.source_resolution)
    print(f"machine: {common.machine()}")
    print(f"proxy base of {options.preset} (efficientnet_b0), {options.steps} steps per trial, "
          f"median of {options.repeats} runs\n")
    print("| trials sharing the device | aggregate images/s, median | all runs | ÷ one trial |")
    print("|---|---|---|---|")
    alone, figures = None, {}
    for trials in options.trials:
        runs = [aggregate(options.preset, options.device, trials, options.steps) for _ in range(options.repeats)]
        median = statistics.median(runs)
        alone = alone or median
        figures[trials] = {"images_per_second": median, "runs": runs, "over_one": median / alone}
        print(f"| {trials} | {median:.0f} | {', '.join(f'{r:.0f}' for r in runs)} | {median / alone:.2f} |", flush=True)
        if options.json:  # after every row: a step cut short by its time budget keeps what it measured
            record = {"bench": "sharing", "machine": common.machine(), "device": options.device,
                      "preset": options.preset, "steps": options.steps, "repeats": options.repeats, "trials": figures}
            with open(options.json, "a") as handle:
                handle.write(json.dumps(record) + "\n")
    if own_folder:
        shutil.rmtree(own_folder)


if __name__ == "__main__":
    main()
