"""How many distinct networks a CPU proxy base puts on the 2× budget, and what its trainings cost (issue 12).

    python bench/bench_proxy_space.py                                  # the search-space table, no training
    python bench/bench_proxy_space.py --train --seeds 0 1 --jobs 2     # plus seconds and accuracy per training
    python bench/bench_proxy_space.py --design w=0.25,d=1,r=48 --train # one design of your own

A design is a proxy base (B0 at width w, depth d, r px, images stored at src px ≥ 1.5 × r) and its data and
schedule (n training and val validation images of the synthetic set, e epochs, batch b, peak rate lr).
For each design the table gives, with the tool's own code and no training:

- the distinct networks on budget (measured FLOPs within ±tolerance of budget × base, γ ≥ 1, as a measured-mode
  search judges them; distinct = ``ModelSpec.architecture()``, the table's column) that the samplers can propose:
  * shares: the continuous samplers' share grid (depth_share, width_share on SHARE_STEP), mapped by
    ``coefficients_from_shares`` and re-solved in resolution (``evaluate(..., solve_resolution=True)``);
  * grid: the (α, β) pairs of ``grid_depth_width_points(GridSpec())`` with α·β² ≤ budget + tolerance, solved
    alike;
  * how many distinct depths (per-stage block counts), widths (channel tables) and input sizes those networks
    use, and their input sizes (UPSAMPLED when a candidate's input is above the stored images' src px);
- the depth-, width- and resolution-only references (``reference_points(..., "measured")`` with solve == "along",
  by ``evaluate_along``): their measured FLOPs ratio and whether it is within the tolerance;
- the base's MFLOPs and a 2× network's (the resolution-only reference's); the last column is this row's seconds.

With --train, the base and the three references are trained with the real ``train_proxy`` on the synthetic set
(seed s picks the data subset and the training's randomness, as ``scalesearch run --seed`` does), one torch thread
per training, --jobs trainings at a time (2: as a default search runs on 2 cores). Seconds are the wall time of the
whole ``train_proxy`` call (its ``train_seconds``, training plus per-epoch validation, is printed per training),
and its CPU seconds (``time.process_time`` of the one-thread worker): on a shared machine the wall seconds are
inflated by whatever else runs (the load average at the start of each training is printed), while the CPU seconds
stay close to what the training takes on a core of its own (on a quiet 2-core machine, 2 side by side). The default
run estimate is ceil((search trials + reference trials) / jobs) rounds of the references' mean seconds, + 10 s for
Ray's start, once from wall and once from CPU seconds.

"""
from __future__ import annotations

import argparse
import concurrent.futures
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace


from scalesearch.cost.formula import count
from scalesearch.model.scaling import proxy_base, scale
from scalesearch.model.spaces import load_space
from scalesearch.study.feasibility import evaluate, evaluate_along
from scalesearch.study.samplers import (
    SHARE_STEP,
    GridSpec,
    coefficients_from_shares,
    grid_depth_width_points,
    reference_points,
)
from scalesearch.training.presets import PRESETS

SPACE = "efficientnet_b0"
NUM_CLASSES = 10  # the synthetic set
REFERENCES = ("depth-only", "width-only", "resolution-only")


@dataclass(frozen=True)
class Design:
    width: float
    depth: float
    resolution: int
    source: int  # px the images are stored at
    images: int
    val: int
    epochs: int
    batch: int
    lr: float

    @property
    def label(self) -> str:
        return (f"w{self.width:g} d{self.depth:g} {self.resolution}px/{self.source} "
                f"n{self.images}/{self.val} e{self.epochs} b{self.batch} lr{self.lr:g}")


# cpu-tiny as it was when issue 12 was measured, in case the preset is renamed or changed.
CPU_TINY_AT_ISSUE_12 = Design(0.25, 0.34, 32, 64, 1200, 500, 4, 64, 0.05)


def _current_default() -> Design:
    """The CPU preset of today (cpu-tiny), the starting point of every --design."""
    preset = PRESETS.get("cpu-tiny")
    if preset is None:
        return CPU_TINY_AT_ISSUE_12
    return Design(preset.base_width, preset.base_depth, preset.base_resolution, preset.source_resolution,
                  preset.proxy_images, preset.val_images, preset.epochs, preset.batch_size, preset.learning_rate)


def parse_design(text: str, default: Design) -> Design:
    """``w=0.25,d=1,r=48[,src=72,n=1200,val=500,e=4,b=64,lr=0.05]``; unset keys come from ``default``,
    src, unless given, from the larger of the default's and 1.5 × r rounded up to a multiple of 8."""
    keys = {"w": ("width", float), "d": ("depth", float), "r": ("resolution", int), "src": ("source", int),
            "n": ("images", int), "val": ("val", int), "e": ("epochs", int), "b": ("batch", int), "lr": ("lr", float)}
    fields = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key not in keys:
            raise SystemExit(f"unknown design key {key!r} in {text!r}; use {', '.join(keys)}")
        name, kind = keys[key]
        fields[name] = kind(value)
    design = replace(default, **fields)
    if "source" not in fields:
        design = replace(design, source=max(default.source, 8 * math.ceil(1.5 * design.resolution / 8)))
    if design.source < 1.5 * design.resolution:
        raise SystemExit(f"{design.label}: source resolution must be ≥ 1.5 × base resolution")
    return design


# The designs measured for issue 12: cpu-tiny as it is first, then bases with more depth and a base resolution
# off the 32-px boundaries (34–36 px: the last stage sees 2×2, and doubling FLOPs by resolution alone stays
# below the next jump at 65 px), and the larger 52-px bases for comparison. Sweep more with --design.
DEFAULT_DESIGNS = (
    "",  # cpu-tiny as it is
    "w=0.25,d=1,r=32",
    "w=0.25,d=1,r=34",
    "w=0.25,d=0.75,r=34",
    "w=0.25,d=0.75,r=34,lr=0.1",  # the recommended design (rates 0.025, 0.05, 0.1, 0.2 tried: 0.1 learned most)
    "w=0.25,d=0.75,r=34,n=1000,val=400",
    "w=0.25,d=0.75,r=36",
    "w=0.25,d=0.6,r=36",
    "w=0.25,d=1,r=40",
    "w=0.25,d=1,r=52",
    "w=0.35,d=0.75,r=52",
    "w=0.4,d=0.5,r=52",
    "w=0.5,d=0.5,r=52",
)


# ---------------------------------------------------------------- the search space, by the tool's own judgement

def base_of(design: Design):
    base = proxy_base(load_space(SPACE), design.width, design.depth, design.resolution)
    return base, count(scale(base), NUM_CLASSES)[0]  # fvcore's count by arithmetic (pinned equal to fvcore)


def _evaluate_cached(base, base_flops, alpha, beta, budget, tolerance, memo):
    """``evaluate(..., solve_resolution=True)``. With the resolution solved, the candidate's network depends on
    (α, β) only through the rounded depth and width (the solve sees nothing else), and α, β ≥ 1 here, so one
    evaluation per rounded (depth, width) network decides all the points that round to it."""
    key = scale(base, width=beta, depth=alpha).architecture_key()[:-1]  # all but the resolution
    if key not in memo:
        memo[key] = evaluate(base, base_flops, alpha, beta, 1.0, budget=budget, tolerance=tolerance,
                             constraint="measured", num_classes=NUM_CLASSES, solve_resolution=True)
    return memo[key]


def count_by_arithmetic() -> None:
    """Let ``evaluate`` take an on-budget candidate's FLOPs from fvcore's count done by arithmetic instead of an
    fvcore trace (2–3 s each on a busy 2-core machine, most of this bench's time). The two are equal, pinned by the
    project's tests, and the feasibility decision is made from the arithmetic count either way. Patches the bench
    process's copy of the module only (wherever ``evaluate`` lives), nothing on disk."""
    namespace = evaluate.__globals__
    if not all(name in namespace for name in ("measure", "Measurement", "count_parameters")):
        print("note: evaluate's module has changed; on-budget networks are traced by fvcore (slow, same figures)")
        return
    Measurement, count_parameters = namespace["Measurement"], namespace["count_parameters"]

    def measure(spec, num_classes=1000, counter="fvcore"):
        flops, activations = count(spec, num_classes)
        return Measurement(flops, count_parameters(spec, num_classes), activations, "arithmetic", 0.0)

    namespace["measure"] = measure


def space_row(design: Design, budget: float, tolerance: float) -> dict:
    started = time.perf_counter()
    base, base_flops = base_of(design)
    memo: dict = {}
    steps = round(1 / SHARE_STEP)
    shares = {}
    for i in range(steps + 1):
        for j in range(steps + 1):
            alpha, beta, _ = coefficients_from_shares(i * SHARE_STEP, j * SHARE_STEP, budget)
            candidate = _evaluate_cached(base, base_flops, alpha, beta, budget, tolerance, memo)
            if candidate.feasible:
                shares.setdefault(candidate.spec.architecture(), candidate)
    grid = {}
    for alpha, beta in grid_depth_width_points(GridSpec()):
        if alpha * beta**2 <= budget + tolerance:
            candidate = _evaluate_cached(base, base_flops, alpha, beta, budget, tolerance, memo)
            if candidate.feasible:
                grid.setdefault(candidate.spec.architecture(), candidate)
    union = {**shares, **grid}
    references = {}
    for reference in reference_points(SPACE, budget, "measured"):
        if reference.solve == "along":
            references[reference.label] = evaluate_along(base, base_flops, reference.alpha, reference.beta,
                                                         reference.gamma, budget=budget, tolerance=tolerance,
                                                         num_classes=NUM_CLASSES)
    spec = scale(base)
    return {
        "design": design, "base": base, "base_flops": base_flops, "base_spec": spec,
        "shares": len(shares), "grid": len(grid), "union": len(union),
        "depths": len({tuple(s.repeats for s in c.spec.stages) for c in union.values()}),
        "widths": len({(c.spec.stem, tuple(s.channels for s in c.spec.stages), c.spec.head_channels)
                       for c in union.values()}),
        "sizes": sorted({c.spec.resolution for c in union.values()}),
        "references": references, "seconds": time.perf_counter() - started,
    }


def _reference_text(candidate) -> str:
    spec = candidate.spec
    mark = "ok" if candidate.feasible else "MISS"
    return f"{candidate.flops_ratio:.2f}× {mark} ({sum(s.repeats for s in spec.stages)} blocks, {spec.resolution} px)"


def print_space_table(rows: list[dict], budget: float, tolerance: float) -> None:
    print(f"\nSearch space of each proxy base at {budget:g}× (measured FLOPs within ±{tolerance:g}, γ ≥ 1), "
          f"{SPACE}; counted with the tool's evaluate/evaluate_along, no training")
    print("| design | base: blocks, MFLOPs | 2× net MFLOPs | distinct on budget: shares / grid / union "
          "| depths / widths / sizes | input sizes (UPSAMPLED: above src) | depth-only | width-only | resolution-only "
          "| s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        refs = row["references"]
        two = refs.get("resolution-only")
        sizes = row["sizes"]
        print(f"| {row['design'].label} | {sum(s.repeats for s in row['base_spec'].stages)}, "
              f"{row['base_flops'] / 1e6:.2f} | {two.cost.flops / 1e6:.2f} | "
              f"{row['shares']} / {row['grid']} / {row['union']} | "
              f"{row['depths']} / {row['widths']} / {len(sizes)} | "
              f"{(f'{sizes[0]}–{sizes[-1]}' if sizes else '—')}"
              f"{' UPSAMPLED' if sizes and sizes[-1] > row['design'].source else ''} | "
              + " | ".join(_reference_text(refs[label]) for label in REFERENCES)
              + f" | {row['seconds']:.0f} |")


# ---------------------------------------------------------------- trainings

_datasets: dict = {}


def _train_one(design: Design, label: str, spec_dict: dict, seed: int) -> dict:
    """One proxy training on one torch thread, in a worker process (so --jobs trainings run side by side)."""
    import torch

    torch.set_num_threads(1)
    from scalesearch.data.datasets import load_dataset
    from scalesearch.model.scaling import ModelSpec
    from scalesearch.training.proxy import ProxyConfig, train_proxy
    key = (design.source, design.images, design.val, seed)
    if key not in _datasets:
        _datasets.clear()
        _datasets[key] = load_dataset("synthetic", proxy_images=design.images, val_images=design.val,
                                      source_resolution=design.source, seed=seed)
    config = ProxyConfig(epochs=design.epochs, batch_size=design.batch, learning_rate=design.lr, seed=seed,
                         device="cpu")
    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train_proxy(ModelSpec.from_dict(spec_dict), _datasets[key], config)
    cpu_seconds = time.process_time() - cpu_started
    return {"design": design, "label": label, "seed": seed, "accuracy": result.accuracy,
            "history": [round(epoch["accuracy"], 3) for epoch in result.history],
            "train_seconds": result.train_seconds, "call_seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds, "load": load}


def run_trainings(rows: list[dict], seeds: list[int], jobs: int) -> list[dict]:
    tasks = []
    for seed in seeds:  # seed-major: with a time limit, every design gets its first seed first
        for row in rows:
            tasks.append((row["design"], "base", row["base_spec"].to_dict(), seed))
            for label in REFERENCES:
                tasks.append((row["design"], label, row["references"][label].spec.to_dict(), seed))
    results = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_train_one, *task) for task in tasks]
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results.append(result)
            print(f"  trained {result['design'].label} | {result['label']} | seed {result['seed']} | "
                  f"acc {result['accuracy']:.3f} {result['history']} | {result['call_seconds']:.1f} s wall "
                  f"(train_seconds {result['train_seconds']:.1f}, CPU {result['cpu_seconds']:.1f} s) | "
                  f"load {result['load']:.1f}", flush=True)
    return results


def _summary(values: list[float], digits: int) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def print_training_table(rows: list[dict], results: list[dict], jobs: int, search_trials: int,
                         reference_trials: int) -> None:
    print(f"\nTrainings: real train_proxy on the synthetic set, 1 torch thread each, {jobs} at a time; "
          "seconds = whole train_proxy call (mean ± sd over seeds), accuracy after the last epoch (mean ± sd)")
    print("| design | seeds | base s | depth-only s | width-only s | resolution-only s "
          "| CPU s: base / depth / width / resolution | base acc | depth-only acc "
          "| width-only acc | resolution-only acc | est. default run s (wall; CPU) | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        mine = [r for r in results if r["design"] == row["design"]]
        if not mine:
            continue
        cells_s, cells_c, cells_a = [], [], []
        for label in ("base",) + REFERENCES:
            chosen = [r for r in mine if r["label"] == label]
            cells_s.append(_summary([r["call_seconds"] for r in chosen], 1))
            cells_c.append(f"{statistics.fmean([r['cpu_seconds'] for r in chosen]):.1f}" if chosen else "—")
            cells_a.append(_summary([r["accuracy"] for r in chosen], 3))
        # A default run: search_trials + reference_trials trainings of ≈2× FLOPs, `jobs` at a time, + Ray start;
        # the mean of the three references stands for a 2× candidate.
        rounds = math.ceil((search_trials + reference_trials) / jobs)
        wall = rounds * statistics.fmean([r["call_seconds"] for r in mine if r["label"] in REFERENCES]) + 10
        cpu = rounds * statistics.fmean([r["cpu_seconds"] for r in mine if r["label"] in REFERENCES]) + 10
        loads = [r["load"] for r in mine]
        print(f"| {row['design'].label} | {len({r['seed'] for r in mine})} | " + " | ".join(cells_s) + " | "
              + " / ".join(cells_c) + " | " + " | ".join(cells_a)
              + f" | {wall:.0f}; {cpu:.0f} | {min(loads):.1f}–{max(loads):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", action="append", default=None,
                        help="w=..,d=..,r=..[,src=..,n=..,val=..,e=..,b=..,lr=..] (repeatable); "
                             "default: a built-in list")
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--tolerance", type=float, default=0.1)
    parser.add_argument("--fvcore", action="store_true",
                        help="trace every on-budget network with fvcore as a search does (slow; same figures)")
    parser.add_argument("--train", action="store_true", help="also train base and references (slow)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--jobs", type=int, default=2, help="trainings side by side, 1 torch thread each")
    parser.add_argument("--search-trials", type=int, default=12, help="for the run-time estimate")
    parser.add_argument("--reference-trials", type=int, default=5, help="for the run-time estimate")
    options = parser.parse_args()
    default = _current_default()
    designs = [parse_design(text, default) for text in (options.design or DEFAULT_DESIGNS)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    if not options.fvcore:
        count_by_arithmetic()
    rows = [space_row(design, options.budget, options.tolerance) for design in designs]
    print_space_table(rows, options.budget, options.tolerance)
    if options.train:
        started = time.perf_counter()
        results = run_trainings(rows, options.seeds, options.jobs)
        print_training_table(rows, results, options.jobs, options.search_trials, options.reference_trials)
        print(f"\ntrainings took {time.perf_counter() - started:.0f} s wall; "
              f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
