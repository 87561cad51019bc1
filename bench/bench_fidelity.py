"""Proxy fidelity: does the short proxy rank candidates the way a 4× longer training does?
Kendall τ between the rankings, for several proxy lengths.

    python bench/bench_fidelity.py --space efficientnet_b0 --proxy-epochs 1 2 4 8 --long-epochs 16 [--device cuda]

The candidates are the ones a search has to rank: every distinct network of the NNI grid that is on
the measured budget (the grid walked by the tool's SearchStudy, as in bench_samplers.py), plus the
single-dimension references. Each is trained at every proxy length and at the long length, with the
same seeds; a ranking by several seeds uses their mean accuracy. τ is Kendall's tau-b (ties allowed).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from scipy.stats import kendalltau

import common


def candidates(space: str, preset: str, budget: float, trainer: common.Trainer) -> dict:
    table = common.sequential_search(space, trainer, Path(tempfile.mkdtemp(prefix="bench-fidelity-")), sampler="grid",
                                     sampler_seed=0, trials=10_000, budget=budget)
    chosen = {}
    for _, row in table[table["status"] == "complete"].iterrows():
        label = f"grid ({row['alpha']:.2f}, {row['beta']:.2f})"
        chosen[label] = common.candidate(space, preset, row["alpha"], row["beta"], row["gamma"], budget=budget,
                                         solve_resolution=False)
    chosen.update(common.single_dimension(space, preset, budget))
    distinct = {}
    for label, candidate in chosen.items():  # a reference may be a grid network too
        distinct.setdefault(candidate.spec.architecture_key(), (label, candidate))
    return dict(distinct.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="efficientnet_b0")
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--proxy-epochs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--long-epochs", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    trainer = common.Trainer(options.preset, options.device)
    print(f"machine: {common.machine()}")
    started = time.time()
    chosen = candidates(options.space, options.preset, options.budget, trainer)
    lengths = sorted(set(options.proxy_epochs) | {options.long_epochs})
    accuracy = {}  # (label, epochs, seed) → accuracy
    seconds = {epochs: 0.0 for epochs in lengths}
    for epochs in lengths:
        for label, candidate in chosen.items():
            for seed in options.seeds:
                result = trainer.train(candidate.spec, seed, epochs)
                accuracy[label, epochs, seed] = result["accuracy"]
                seconds[epochs] += result["train_seconds"]

    def mean(label, epochs, seeds):
        return statistics.fmean(accuracy[label, epochs, seed] for seed in seeds)

    labels = list(chosen)
    print(f"\n### {options.space}, proxy {options.preset}, {len(labels)} candidates at {options.budget:g}x "
          f"(benchmark {time.time() - started:.0f} s)\n")
    print("| candidate | px | FLOPs × base | " + " | ".join(f"{e} ep" for e in lengths) + " |")
    print("|---|---|---|" + "---|" * len(lengths))
    for label in labels:
        candidate = chosen[label]
        print(f"| {label} | {candidate.spec.resolution} | {candidate.flops_ratio:.2f} | "
              + " | ".join(f"{mean(label, e, options.seeds):.3f}" for e in lengths) + " |")
    print(f"\nAccuracies are means over seeds {options.seeds}.\n")
    long_all = [mean(label, options.long_epochs, options.seeds) for label in labels]
    print(f"| proxy | seeds | Kendall τ against {options.long_epochs} epochs (mean of seeds {options.seeds}) | p | "
          "training time of the proxy, all candidates |")
    print("|---|---|---|---|---|")
    for epochs in options.proxy_epochs:
        seed_sets = [[seed] for seed in options.seeds] + ([options.seeds] if len(options.seeds) > 1 else [])
        for seeds in seed_sets:
            tau, p = kendalltau([mean(label, epochs, seeds) for label in labels], long_all)
            cost = seconds[epochs] * len(seeds) / len(options.seeds)
            print(f"| {epochs} epochs | {', '.join(map(str, seeds))} | {tau:+.2f} | {p:.3f} | {cost:.0f} s |")
    if len(options.seeds) > 1:
        tau, p = kendalltau([accuracy[label, options.long_epochs, options.seeds[0]] for label in labels],
                            [accuracy[label, options.long_epochs, options.seeds[1]] for label in labels])
        print(f"\nThe long training against itself with another seed (seeds {options.seeds[0]} and {options.seeds[1]}): "
              f"τ = {tau:+.2f} (p {p:.3f}): no proxy can rank better than the noise of the long training allows.")


if __name__ == "__main__":
    main()
