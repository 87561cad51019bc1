"""Image folders of any size: time to the first training and peak memory on a generated folder of JPEGs.

    python bench/bench_folder.py                                  # generate the folder if missing, then every run
    python bench/bench_folder.py --runs cold,warm --label before  # some runs, labelled
    python bench/bench_folder.py --generate-only

The folder (``--folder``, default /tmp/bench-folder-200k): ``--images`` (200,000) small JPEGs (100×80 px) in
``--classes`` (1,000) class subfolders, generated once by this script (deterministic, in worker processes) and
reused while its ``.complete`` marker says it was finished.

Every run is a fresh Python process (``--child``), so what it reports is that process alone:

- ``load s``: ``load_dataset(FOLDER, proxy_images=, val_images=, source_resolution=, seed=, cache_dir=)``;
- ``first training s``: from starting the process (imports included) to the end of the first epoch of a proxy
  training of the cpu-tiny base on the loaded set, cut to one optimizer step (``max_steps=1``: one step and the
  validation pass);
- ``peak RSS``: the process's own peak resident set (``ru_maxrss``), and the peak of the whole process tree
  (the loader's decode workers included) sampled every 0.1 s as the sum of each process's proportional set size
  (PSS: pages a forked worker shares with its parent are counted once).

Runs (``--runs``): ``cold`` (an empty cache folder), ``warm`` (the same seed again), ``seed`` (``--seed`` + 1 on the
warm cache: another subset), ``full`` (``proxy_images=None``: every image; cold), ``full-warm``. The cache lives in
``--cache`` (default FOLDER-cache/LABEL/); "cold" empties it first. The OS page cache is not dropped: the JPEGs
are read from memory in every run, as on a machine that has read the folder before.
``--json PATH`` appends one line per run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMPLETE = ".complete"
WIDTH, HEIGHT = 100, 80


# ---------------------------------------------------------------- the folder

def _class_images(task) -> int:
    """Writes one class's JPEGs; the class is a colour and a stripe orientation, each image its own draw."""
    folder, label, count, classes = task
    from PIL import Image

    rng = np.random.default_rng(label)
    colour = rng.uniform(40, 215, 3)
    angle = np.pi * label / classes
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    target = Path(folder) / f"c{label:04d}"
    target.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        frequency = rng.uniform(0.08, 0.3)
        phase = rng.uniform(0, 2 * np.pi)
        stripes = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)) + phase)
        pixels = colour + 40 * stripes[..., None] + rng.normal(0, 12, (HEIGHT, WIDTH, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(target / f"{index:06d}.jpg", quality=85)
    return count


def generate(folder: Path, images: int, classes: int, workers: int) -> None:
    """The folder, unless a finished one is there (its marker names the same size)."""
    marker = folder / COMPLETE
    wanted = f"{images} {classes} {WIDTH}x{HEIGHT}\n"
    if marker.is_file() and marker.read_text() == wanted:
        return
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    per_class = [images // classes + (label < images % classes) for label in range(classes)]
    started = time.perf_counter()
    print(f"generating {images:,} JPEGs in {classes:,} classes into {folder} …", flush=True)
    with ProcessPoolExecutor(workers) as pool:
        done = 0
        for count in pool.map(_class_images, [(str(partial), label, per_class[label], classes)
                                              for label in range(classes)], chunksize=8):
            done += count
            if done % 20_000 < count:
                print(f"  {done:,} written, {time.perf_counter() - started:.0f} s", flush=True)
    (partial / COMPLETE).write_text(wanted)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)


# ---------------------------------------------------------------- one run, in its own process

def child(options) -> None:
    started = time.time()
    import torch

    from scalesearch.data.datasets import load_dataset
    from scalesearch.model.scaling import proxy_base, scale
    from scalesearch.model.spaces import load_space
    from scalesearch.training.presets import PRESETS
    from scalesearch.training.proxy import ProxyConfig, train_proxy

    torch.set_num_threads(1)  # as a search gives each trial on a CPU
    proxy_images = None if options.proxy_images <= 0 else options.proxy_images
    load_started = time.time()
    dataset = load_dataset(options.folder, proxy_images=proxy_images, val_images=options.val_images,
                           source_resolution=options.resolution, seed=options.seed, cache_dir=options.cache)
    loaded = time.time()
    preset = PRESETS["cpu-tiny"]
    spec = scale(proxy_base(load_space("efficientnet_b0"), preset.base_width, preset.base_depth,
                            preset.base_resolution))
    first_epoch = {}
    config = ProxyConfig(epochs=1, batch_size=preset.batch_size, learning_rate=preset.learning_rate,
                         seed=options.seed, device="cpu", max_steps=1)
    train_proxy(spec, dataset, config, on_epoch=lambda record: first_epoch.setdefault("at", time.time()))
    print(json.dumps({
        "imports_s": load_started - started, "load_s": loaded - load_started,
        "first_training_s": first_epoch["at"] - options.spawned,
        "train_images": len(dataset.train_labels), "val_images": len(dataset.val_labels),
        "max_rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }), flush=True)


def _tree(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    queue.extend(int(child_pid) for child_pid in handle.read().split())
        except OSError:
            continue
    return found


def _pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total / 1024


def measure(options, run: str, cache: Path) -> dict:
    seed = options.seed + (run == "seed")
    proxy_images = 0 if run.startswith("full") else options.proxy_images
    if run in ("cold", "full"):
        shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    spawned = time.time()
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--folder", str(options.folder),
               "--proxy-images", str(proxy_images), "--val-images", str(options.val_images),
               "--resolution", str(options.resolution), "--seed", str(seed), "--cache", str(cache),
               "--spawned", repr(spawned)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _pss_mb(_tree(process.pid)))
        time.sleep(0.1)
    output = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"run {run} failed (exit {process.returncode}): {output[-2000:]}")
    record = json.loads(output.strip().splitlines()[-1])
    record.update(run=run, seed=seed, proxy_images=proxy_images or None, peak_tree_pss_mb=peak,
                  load_average=os.getloadavg()[0], label=options.label)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench-folder-200k"))
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--classes", type=int, default=1_000)
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--runs", default="cold,warm,seed,full,full-warm")
    parser.add_argument("--proxy-images", type=int, default=10_000, help="0: every image (the full-folder path)")
    parser.add_argument("--val-images", type=int, default=500)
    parser.add_argument("--resolution", type=int, default=64, help="the source resolution (cpu-tiny's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="cache folder (default FOLDER-cache/LABEL)")
    parser.add_argument("--label", default="now")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options)
        return
    generate(options.folder, options.images, options.classes, os.cpu_count() or 1)
    if options.generate_only:
        return
    cache = options.cache or options.folder.with_name(options.folder.name + "-cache") / options.label
    print(f"load average {os.getloadavg()[0]:.2f}; cache {cache}", flush=True)
    print("| run | seed | proxy images | train / val | load s | first training s | peak RSS (process) MB "
          "| peak PSS (tree) MB | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in options.runs.split(","):
        record = measure(options, run, cache)
        print(f"| {run} | {record['seed']} | {record['proxy_images'] or 'all'} | "
              f"{record['train_images']:,} / {record['val_images']:,} | {record['load_s']:.1f} | "
              f"{record['first_training_s']:.1f} | {record['max_rss_self_mb']:,.0f} | "
              f"{record['peak_tree_pss_mb']:,.0f} | {record['load_average']:.2f} |", flush=True)
        if options.json:
            with options.json.open("a") as handle:
                handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
