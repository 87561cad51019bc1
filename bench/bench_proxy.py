"""Training-step throughput of train_proxy's loop against bare PyTorch loops on the same model and data.

    python bench/bench_proxy.py                       # CPU, cpu-tiny's base network, batch and data
    python bench/bench_proxy.py --device cuda --preset gpu-small --steps 100

Every row trains a freshly built copy of the same candidate for the same number of steps at the
same batch size and input resolution, and counts training steps only (no validation):

- proxy: ``train_proxy`` itself (its ``images_per_second``): uint8 images at the source resolution,
  resized (antialiased) and, unless "no augment", cropped and flipped on the device every step.
- bare: the minimum a hand-written loop needs: images already resized and normalised as float32
  on the device, a shuffled permutation sliced into batches, forward, loss, backward, step.
- bare bf16 + channels_last (the CUDA recipe only): the same with autocast to bf16 and channels-last memory;
  the goal on a GPU is train_proxy ≥ 0.95 of it (bench/gpu_check.sh).
- --compile: that bf16 loop again with ``torch.compile(model)``: does compiling pay for a launch-bound small
  proxy? Its untimed first round (the compilation) is reported apart.
- DataLoader: a naive fp32 loop: a torch Dataset on CPU tensors doing crop, flip and resize per
  sample, torch.utils.data.DataLoader with --workers processes, each batch copied to the device.

After one untimed round of every row, rows are interleaved and each is the median of --repeats
runs, timed by the wall clock and, for single-process CPU loops, also by the process's CPU clock:
on a shared machine the CPU clock is what the loop costs, undisturbed by other processes.

``--json PATH`` appends one line of every median and ratio (bench/gpu_check.sh reads it). Under the test aid
SCALESEARCH_CUDA_ON_CPU=1, ``--device cuda`` runs the CUDA recipe on the CPU (training/recipe.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import time
import types

import torch
from torch.nn import functional

import data_cache
from scalesearch.training import batches, recipe

from scalesearch.training import proxy
from scalesearch.model.build import build_model
from scalesearch.training.presets import PRESETS
from scalesearch.training.proxy import ProxyConfig, _optimizer, resolve_device, train_proxy

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space


def proxy_loop(spec, dataset, config, clock) -> float:
    """train_proxy's own images_per_second, with its timer switched to ``clock``."""
    original = proxy.time
    proxy.time = types.SimpleNamespace(perf_counter=clock)
    try:
        return train_proxy(spec, dataset, config).images_per_second
    finally:
        proxy.time = original


def bare_loop(spec, dataset, config, clock, low_precision: bool = False, compiled: bool = False) -> float:
    """Images per second of the plainest loop, on data prepared before the clock starts."""
    device = resolve_device(config.device)
    chosen = recipe.CUDA if low_precision else recipe.CPU
    memory_format, autocast = chosen.memory_format, chosen.autocast(device)
    images = prepared_images(dataset, spec.resolution, device, chosen)
    labels = dataset.train_labels.to(device)
    torch.manual_seed(config.seed)
    model = build_model(spec, dataset.num_classes).to(device=device, memory_format=memory_format)
    if compiled:
        model = torch.compile(model)
    optimizer = _optimizer(model, config)  # the same SGD, parameter groups and weight decay
    steps = len(labels) // config.batch_size
    synchronize(device)
    started = clock()
    order = torch.randperm(len(labels), device=device)
    for step in range(steps):
        batch = order[step * config.batch_size:(step + 1) * config.batch_size]
        with autocast:
            loss = functional.cross_entropy(model(images.index_select(0, batch)), labels[batch],
                                            label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * config.batch_size / (clock() - started)


def pipeline_ms(spec, dataset, config, batches_to_time: int = 50) -> float:
    """Median CPU milliseconds of train_proxy's per-step input work alone (select, resize, crop, flip, normalise)."""
    device = resolve_device(config.device)
    storage = batches.to_storage(dataset.train_images, device)
    generator = torch.Generator(device=device).manual_seed(0)
    timings = []
    for _ in range(batches_to_time):
        index = torch.randperm(len(storage), device=device, generator=generator)[:config.batch_size]
        started = time.process_time()
        batches.train_batch(storage, index, spec.resolution, generator, config.augment, recipe.recipe_for(device))
        synchronize(device)
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings)


def prepared_images(dataset, resolution, device, chosen: recipe.Recipe) -> torch.Tensor:
    storage = batches.to_storage(dataset.train_images, device)
    return batches.eval_batch(storage, 0, len(storage), resolution, chosen)


class AugmentedImages(torch.utils.data.Dataset):
    """The per-sample way: crop, flip and resize one CPU image at a time."""

    def __init__(self, dataset, resolution: int):
        self.images, self.labels, self.resolution = dataset.train_images, dataset.train_labels, resolution
        self.mean = torch.tensor(batches.MEAN).view(3, 1, 1) * 255
        self.std = torch.tensor(batches.STD).view(3, 1, 1) * 255

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index].float()
        size = image.shape[-1]
        padding = size // 8
        padded = functional.pad(image, (padding,) * 4)
        top, left = torch.randint(0, 2 * padding + 1, (2,)).tolist()
        image = padded[:, top:top + size, left:left + size]
        if torch.rand(()) < 0.5:
            image = image.flip(-1)
        image = functional.interpolate(image[None], size=(self.resolution,) * 2, mode="bilinear", antialias=True)[0]
        return (image - self.mean) / self.std, self.labels[index]


def dataloader_loop(spec, dataset, config, workers: int) -> float:
    device = resolve_device(config.device)
    loader = torch.utils.data.DataLoader(AugmentedImages(dataset, spec.resolution), batch_size=config.batch_size,
                                         shuffle=True, drop_last=True, num_workers=workers,
                                         pin_memory=device.type == "cuda", persistent_workers=False)
    torch.manual_seed(config.seed)
    model = build_model(spec, dataset.num_classes).to(device)
    optimizer = _optimizer(model, config)
    synchronize(device)
    started, seen = time.perf_counter(), 0
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        loss = functional.cross_entropy(model(images), labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(labels)
    synchronize(device)
    return seen / (time.perf_counter() - started)


def synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{model}, {os.cpu_count()} logical CPUs{gpu}; torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="cpu-tiny", choices=list(PRESETS))
    parser.add_argument("--steps", type=int, default=30, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a search gives each trial 1)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no-dataloader", action="store_true", help="leave out the naive DataLoader row")
    parser.add_argument("--compile", action="store_true", help="add the bf16 loop under torch.compile")
    parser.add_argument("--json", help="append the medians and ratios as one JSON line to this file")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)

    preset = PRESETS[options.preset]
    spec = scale(proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth, preset.base_resolution))
    spec = dataclasses.replace(spec, bn_momentum=ProxyConfig.bn_momentum)
    dataset = data_cache.synthetic(options.steps * preset.batch_size, preset.batch_size, preset.source_resolution)
    config = ProxyConfig(epochs=1, batch_size=preset.batch_size, learning_rate=preset.learning_rate,
                         device=options.device)
    device = resolve_device(options.device)
    on_cuda = device.type == "cuda"
    rows = {
        "bare loop (fp32, pre-resized)": lambda clock: bare_loop(spec, dataset, config, clock),
        "train_proxy": lambda clock: proxy_loop(spec, dataset, config, clock),
        "train_proxy, no augment": lambda clock: proxy_loop(spec, dataset, dataclasses.replace(config, augment=False), clock),
    }
    if not options.no_dataloader:
        rows[f"naive DataLoader ({options.workers} workers, per-sample aug, fp32)"] = \
            lambda clock: dataloader_loop(spec, dataset, config, options.workers)
    if recipe.recipe_for(device) is recipe.CUDA:  # a GPU, or the CUDA recipe on the CPU under its test aid
        rows["bare loop (bf16 + channels_last)"] = lambda clock: bare_loop(spec, dataset, config, clock, True)
        if options.compile:
            rows["bare loop (bf16 + channels_last, torch.compile)"] = \
                lambda clock: bare_loop(spec, dataset, config, clock, True, compiled=True)
    # CPU seconds of this process: with one thread, what the loop would take alone on the machine,
    # whatever else runs. Meaningless for GPU work and for DataLoader workers (other processes).
    clocks = {name: ["wall"] if on_cuda or "DataLoader" in name else ["wall", "cpu"] for name in rows}

    first_round = {}
    for name, run in rows.items():  # one untimed round: the first training in a process pays one-off set-up costs
        started = time.perf_counter()
        run(time.perf_counter)
        first_round[name] = time.perf_counter() - started
    runs = {(name, clock): [] for name in rows for clock in clocks[name]}
    for _ in range(options.repeats):
        for name, clock in runs:  # interleaved: slow drifts of the machine hit every row alike
            runs[name, clock].append(rows[name](CLOCKS[clock]))
    medians = {key: statistics.median(values) for key, values in runs.items()}

    print(f"machine: {machine()}; torch threads: {options.threads}")
    print(f"model: {spec.space} proxy base of {preset.name} ({spec.resolution} px from {preset.source_resolution} px "
          f"images), batch {preset.batch_size}, {options.steps} steps, median of {options.repeats} runs")
    references = ["bare loop (fp32, pre-resized)"] + [name for name in rows if "bf16" in name]
    print("| loop | clock | images/s, median | all runs | " + " | ".join(f"÷ {name}" for name in references) + " |")
    print("|---|---|---|---|" + "---|" * len(references))
    for (name, clock), median in medians.items():
        spread = ", ".join(f"{value:.0f}" for value in sorted(runs[name, clock]))
        ratios = " | ".join(f"{median / medians[reference, clock]:.3f}" if (reference, clock) in medians else "–"
                            for reference in references)
        print(f"| {name} | {clock} | {median:.0f} | {spread} | {ratios} |")
    compiled = [name for name in rows if "compile" in name]
    for name in compiled:
        print(f"{name}: its first, untimed round (compilation included) took {first_round[name]:.1f} s")
    if options.json:
        wall = {name: medians[name, "wall"] for name in rows}
        bf16 = wall.get("bare loop (bf16 + channels_last)")
        record = {"bench": "proxy", "machine": machine(), "device": str(device), "preset": preset.name,
                  "steps": options.steps, "repeats": options.repeats, "batch_size": preset.batch_size,
                  "images_per_second": wall, "first_round_seconds": first_round,
                  "proxy_over_bare_bf16": wall["train_proxy"] / bf16 if bf16 else None,
                  "compiled_over_bare_bf16": wall[compiled[0]] / bf16 if compiled and bf16 else None}
        with open(options.json, "a") as handle:
            handle.write(json.dumps(record) + "\n")
    if not on_cuda:
        step_ms = 1000 * config.batch_size / medians["bare loop (fp32, pre-resized)", "cpu"]
        print(f"train_proxy's input work per step alone: {pipeline_ms(spec, dataset, config):.2f} ms with augmentation, "
              f"{pipeline_ms(spec, dataset, dataclasses.replace(config, augment=False)):.2f} ms without "
              f"(CPU clock, median of 50 batches), against {step_ms:.0f} ms for a bare training step")


if __name__ == "__main__":
    main()
