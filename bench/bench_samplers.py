"""Search efficiency: grid against tpe, gp and random on the same task and budget. How many
proxy trainings (and training hours) each needs to reach the grid's best within its seed noise.

    python bench/bench_samplers.py --space efficientnet_b0 --sampler-seeds 0 1 2 3 4 --trials 12 [--device cuda]

Every search is the tool's SearchStudy (measured mode, no reference trials, so no sampler is handed
the single-dimension points) run without Ray through the training memo of common.py; all trainings
use training seed 0, so a network proposed by several samplers is trained once and gets the same
accuracy everywhere. The grid is the NNI grid, walked to its end: its best is what it costs to know.
The noise is the standard deviation of the grid's best network over --noise-seeds.
"""
from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import common

ATTEMPTED = ("complete", "pruned", "failed")


def trainings(table):
    """Rows that cost a training, in the order they were trained (sequential search: trial order)."""
    return table[table["status"].isin(ATTEMPTED)].sort_values("trial").reset_index(drop=True)


def trainings_to_reach(trained, target: float) -> tuple[int | None, float | None]:
    """(trainings, training seconds) until the best accuracy so far first reaches ``target``."""
    best, seconds = -1.0, 0.0
    for index, row in trained.iterrows():
        seconds += float(row["train_seconds"])
        best = max(best, float(row["accuracy"]))
        if best >= target:
            return index + 1, seconds
    return None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="efficientnet_b0")
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--samplers", nargs="+", default=["tpe", "gp", "random"])
    parser.add_argument("--sampler-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=12, help="trainings per Bayesian/random search")
    parser.add_argument("--noise-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    trainer = common.Trainer(options.preset, options.device)
    print(f"machine: {common.machine()}")
    folder = Path(tempfile.mkdtemp(prefix="bench-samplers-"))
    started = time.time()

    grid = trainings(common.sequential_search(options.space, trainer, folder / "grid", sampler="grid", sampler_seed=0,
                                              trials=10_000, budget=options.budget))
    best_row = grid.loc[grid["accuracy"].idxmax()]
    best_spec = common.candidate(options.space, options.preset, best_row["alpha"], best_row["beta"], best_row["gamma"],
                                 budget=options.budget, solve_resolution=False).spec
    noise = [trainer.train(best_spec, seed)["accuracy"] for seed in options.noise_seeds]
    _, sd = common.mean_sd(noise)
    target = float(best_row["accuracy"]) - sd
    print(f"\n{options.space}, proxy {options.preset}, budget {options.budget:g}x: the grid trains {len(grid)} distinct "
          f"feasible networks ({grid['train_seconds'].sum() / 3600:.3f} training hours); best accuracy "
          f"{best_row['accuracy']:.3f} at (α, β, γ) = ({best_row['alpha']:.2f}, {best_row['beta']:.2f}, "
          f"{best_row['gamma']:.3f}); seed sd of that network {sd:.3f} (seeds {options.noise_seeds}: "
          f"{', '.join(f'{a:.3f}' for a in noise)}); target = best − sd = {target:.3f}\n")

    print("| sampler | runs reaching the target | trainings to reach it: median of all runs (per run) | training hours, median "
          "| best accuracy found, median (per run) | distinct networks trained, median |")
    print("|---|---|---|---|---|---|")
    grid_reach = trainings_to_reach(grid, target)
    print(f"| grid (walked to its end; order seeded) | 1/1 | {len(grid)} to know its best (reaches it at "
          f"{grid_reach[0]} in this order) | {grid['train_seconds'].sum() / 3600:.3f} | {best_row['accuracy']:.3f} | "
          f"{len(grid)} |")
    for sampler in options.samplers:
        reached, seconds, bests, counts = [], [], [], []
        for seed in options.sampler_seeds:
            table = common.sequential_search(options.space, trainer, folder / f"{sampler}-{seed}", sampler=sampler,
                                             sampler_seed=seed, trials=options.trials, budget=options.budget)
            trained = trainings(table)
            count, hours = trainings_to_reach(trained, target)
            reached.append(count)
            seconds.append(hours)
            bests.append(float(trained["accuracy"].max()))
            counts.append(len(trained))
        hits = [count for count in reached if count is not None]
        # Over all runs, a run that never reached the target counting as the slowest.
        median = statistics.median([math.inf if count is None else count for count in reached])
        median = f"{median:g}" if median < math.inf else f"not within {options.trials}"
        hours = statistics.median([math.inf if s is None else s / 3600 for s in seconds])
        hours = f"{hours:.3f}" if hours < math.inf else "–"
        print(f"| {sampler} | {len(hits)}/{len(reached)} | {median} ({', '.join(str(c) if c else '–' for c in reached)}) "
              f"| {hours} | {statistics.median(bests):.3f} ({', '.join(f'{b:.3f}' for b in bests)}) | "
              f"{statistics.median(counts):g} |")
    print(f"\nA run that never reaches the target within {options.trials} trainings counts as '–'. "
          f"Goal: a Bayesian sampler needs at most a third of the grid's {len(grid)} trainings. "
          f"Benchmark wall time {time.time() - started:.0f} s.")


if __name__ == "__main__":
    main()
