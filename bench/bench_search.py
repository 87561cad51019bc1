"""Orchestration overhead of a whole run (issue 3/7): run wall time / sum of trial training time
(goal ≤ 1.10), FLOPs-measurement share of the run (goal ≤ 2%), and what skipping duplicate and
infeasible candidates saved.

    python bench/bench_search.py [--repeats 3] [--cold-cache] [-- extra scalesearch run options]
    python bench/bench_search.py --seeds 0 1 2 --cold-cache     # the time and the verdict's stability at once

--cold-cache gives every run an empty FLOPs-measurement cache (what a first run on a machine pays). --seeds runs
one repeat per ``scalesearch run --seed`` value and prints each run's verdict, so the median of 3 and the stability
over seeds (issue 19 §5) come from the same three runs.
The training time infeasible candidates would have cost is an estimate: their measured FLOPs times
the run's training seconds per FLOP of the trained candidates.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def one_run(extra: list[str], cold_cache: bool, seed: int | None = None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
    run_dir = folder / "run"
    command = [sys.executable, "cli.py", "run", "--budget", "2x", "--out", str(run_dir), *extra]
    if seed is not None:
        command += ["--seed", str(seed)]
    environment = {**os.environ, "SCALESEARCH_CACHE": str(folder / "measurements.jsonl")} if cold_cache else None
    start = time.time()
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    process_seconds = time.time() - start
    (folder / "stdout.txt").write_text(result.stdout)  # what the user saw at the end (the README's example)
    info = json.loads((run_dir / "run.json").read_text())
    verdict = json.loads((run_dir / "winner.json").read_text()).get("verdict") or {}
    print(f"seed {seed}: {process_seconds:.0f} s, {folder}; {verdict.get('sentence')}", flush=True)
    table = pd.read_parquet(run_dir / "trials.parquet")
    trained = table[table["status"].isin(["complete", "failed", "pruned"])]
    training = float(trained["train_seconds"].sum())
    by_trial = table.set_index("trial")["train_seconds"]
    duplicates = table[table["status"] == "duplicate"]
    saved = float(sum(by_trial.get(original, 0.0) or 0.0 for original in duplicates["duplicate_of"].dropna()))
    infeasible = table[table["status"] == "infeasible"]
    seconds_per_flop = training / float(trained["flops"].sum())
    wall = float(info["wall_seconds"])
    # A confirm-stage trial copies its original's description, measure_seconds included: nothing was measured for it.
    measured = table[table["stage"] != "confirm"]
    return {
        "process_seconds": process_seconds,
        "search_wall_seconds": wall,
        "training_seconds": training,
        "trials": len(trained),
        "concurrency": int(info["machine"]["cpus"]),
        # The issue's figure, and the same with the trials' parallelism taken out (2 at a time here).
        "wall_over_training": wall / training,
        "wall_over_training_per_slot": wall / (training / max(1, min(len(trained), int(info["machine"]["cpus"])))),
        "measure_seconds": float(measured["measure_seconds"].sum()),
        "measure_share": float(measured["measure_seconds"].sum()) / wall,
        "duplicates": len(duplicates),
        "infeasible": len(infeasible),
        "training_seconds_saved_by_duplicates": saved,
        "training_seconds_saved_by_infeasible_estimate": float(infeasible["flops"].sum()) * seconds_per_flop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-cache", action="store_true", help="an empty FLOPs-measurement cache for every run")
    parser.add_argument("--seeds", type=int, nargs="+", help="one repeat per --seed value (instead of --repeats)")
    args, extra = parser.parse_known_args()
    seeds = args.seeds or [None] * args.repeats
    args.repeats = len(seeds)
    runs = [one_run([a for a in extra if a != "--"], args.cold_cache, seed) for seed in seeds]
    print(f"machine: {platform.processor() or platform.machine()}, {runs[0]['concurrency']} CPUs; "
          f"{args.repeats} runs of: scalesearch run --budget 2x {' '.join(extra)}")
    for key in runs[0]:
        values = [run[key] for run in runs]
        print(f"{key:40s} median {statistics.median(values):10.3f}   runs: {', '.join(f'{v:.3f}' for v in values)}")


if __name__ == "__main__":
    main()
