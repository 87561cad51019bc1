"""Compound against single-dimension scaling at the same measured FLOPs (the paper's Figure 3 /
Table 3, on the proxy task), for each space: the searched coefficients, the paper's point, depth-,
width- and resolution-only, and the unscaled base, each trained with several seeds.

    python bench/bench_compound.py --spaces efficientnet_b0 mobilenet_v2 --seeds 0 1 2 [--device cuda]

"searched" is what a TPE search of the tool finds (same SearchStudy as `scalesearch run`, no
references, --search-trials trainings, run without Ray through the training memo of common.py).
Single-dimension points scale one dimension only, to the measured FLOPs closest to the budget;
"paper" keeps the paper's α, β and solves the resolution like every measured-mode candidate;
"paper-literal" is (1.2, 1.1, 1.15) as given, whatever it costs. A difference is called real when
the two means differ by more than twice the larger standard deviation.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import common
from scalesearch.model.scaling import PAPER_COEFFICIENTS


def points(space: str, preset: str, budget: float, searched: tuple[float, float, float]) -> dict:
    return {
        "base": common.candidate(space, preset, 1.0, 1.0, 1.0, budget=budget, solve_resolution=False),
        "searched": common.candidate(space, preset, *searched, budget=budget, solve_resolution=False),
        # The paper's point for every space (the tool adds it as a reference for B0 at 2x only).
        "paper": common.candidate(space, preset, *PAPER_COEFFICIENTS, budget=budget),
        "paper-literal": common.candidate(space, preset, *PAPER_COEFFICIENTS, budget=budget, solve_resolution=False),
        **common.single_dimension(space, preset, budget),
    }


def searched_coefficients(space: str, trainer: common.Trainer, trials: int, budget: float) -> tuple[float, float, float]:
    table = common.sequential_search(space, trainer, Path(tempfile.mkdtemp(prefix="bench-compound-")), sampler="tpe",
                                     sampler_seed=0, trials=trials, budget=budget)
    best = table[table["status"] == "complete"].sort_values("accuracy", ascending=False).iloc[0]
    return float(best["alpha"]), float(best["beta"]), float(best["gamma"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["efficientnet_b0", "mobilenet_v2"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--search-trials", type=int, default=12)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write every training's figures here")
    options = parser.parse_args()
    trainer = common.Trainer(options.preset, options.device)
    print(f"machine: {common.machine()}")
    records = []
    for space in options.spaces:
        started = time.time()
        searched = searched_coefficients(space, trainer, options.search_trials, options.budget)
        candidates = points(space, options.preset, options.budget, searched)
        rows = {}
        for label, candidate in candidates.items():
            accuracies = []
            for seed in options.seeds:
                result = trainer.train(candidate.spec, seed)
                accuracies.append(result["accuracy"])
                records.append({"space": space, "label": label, "seed": seed, **{k: result[k] for k in
                                ("accuracy", "train_seconds", "memo")}, "flops_ratio": candidate.flops_ratio})
            rows[label] = (candidate, *common.mean_sd(accuracies), accuracies)
        print(f"\n### {space} (proxy {options.preset}, budget {options.budget:g}x, seeds {options.seeds}; "
              f"{time.time() - started:.0f} s)\n")
        print("| scaling | α (depth) | β (width) | γ (res.) | px | blocks | FLOPs × base | accuracy mean ± sd | per seed |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, (candidate, mean, sd, accuracies) in rows.items():
            blocks = sum(stage.repeats for stage in candidate.spec.stages)
            print(f"| {label} | {candidate.alpha:.3f} | {candidate.beta:.3f} | {candidate.gamma:.3f} | "
                  f"{candidate.spec.resolution} | {blocks} | {candidate.flops_ratio:.2f} | {mean:.3f} ± {sd:.3f} | "
                  f"{', '.join(f'{a:.3f}' for a in accuracies)} |")
        _, searched_mean, searched_sd, _ = rows["searched"]
        for label, (_, mean, sd, _) in rows.items():
            if label != "searched":
                gap = searched_mean - mean
                verdict = "real" if abs(gap) > 2 * max(sd, searched_sd) else "within noise"
                print(f"- searched − {label}: {gap:+.3f} ({verdict})")
    if options.json:
        options.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
