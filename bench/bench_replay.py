"""Search procedures replayed on the ground-truth table of the default task (issue 20 §2), no training: compute,
regret and how often the pick is within the noise of the best.

    python bench/bench_replay.py --quick          # < 2 min from the shipped table: ours (the default) and NNI's
    python bench/bench_replay.py --replays 100 --procedures default tpe gp random grid nni --csv out.csv

Each replay of *ours* is a default run's decision path (scalesearch/testing/procedures.py: the real study, confirm
stage, racing and verdict) with its own search seed and its own permutation of the table's paired seeds; every
training it asks for is answered from the table (bench/ground_truth/default_task.csv, bench/ground_truth.py). NNI's
procedure trains its 108 formula-grid points once, with the replay's first seed, and picks the best.

- compute: Σ CPU seconds of the trainings a replay asked for, as the table recorded them (CPU seconds, not wall: the
  table was built over sessions under different loads).
- regret: the true quality of the best network a default run can pick (the search's on budget, references included)
  minus the pick's; a network's true quality is its mean over the table's seeds of a 4× longer training (16 epochs).
  NNI's formula-mode networks can exceed the measured budget, so its regret can be below 0.
- within noise: the pick's regret is at most one paired-seed sd of that long training (GroundTruth.paired_sd).

A table that cannot answer a procedure (a training it asks for is missing) is said in one line, exit 2: build it
further with bench/ground_truth.py.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_calibration import default_settings, proxy_setup  # noqa: E402
from common import machine  # noqa: E402

from scalesearch.testing.ground_truth import GroundTruth, MissingTraining, nni_grid  # noqa: E402
from scalesearch.testing.procedures import first_among, replay_nni, replay_ours, seed_order  # noqa: E402
from scalesearch.verdict.verdict import TIE_BREAKS  # noqa: E402

TABLE = Path(__file__).resolve().parent / "ground_truth" / "default_task.csv"
# A procedure: "default" is the default run; a sampler's name is the default run with that sampler; "halving" the
# default run with --fidelity halving (its rungs: 1 and 4 epochs, as the run would make them for cpu-tiny).
PROCEDURES = ("default", "tpe", "gp", "random", "grid", "halving", "nni")

_TRUTH: GroundTruth | None = None


def _table(path: Path) -> GroundTruth:
    global _TRUTH
    if _TRUTH is None:
        _TRUTH = GroundTruth.load(path)
    return _TRUTH


def one_replay(job: tuple) -> tuple:
    """(procedure, replay, Picked or the missing training's message, seconds), in a worker process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    procedure, index, path, seeds, max_seeds, tie_break = job
    truth = _table(path)
    base, base_flops = proxy_setup()
    settings = default_settings(index, seeds, max_seeds, None)
    if tie_break:
        settings = dataclasses.replace(settings, tie_break=tie_break)
    order = seed_order(truth.seeds(), index)
    clock = time.perf_counter()
    try:
        if procedure == "nni":
            picked = replay_nni(truth, nni_grid(base, base_flops, settings), order)
        else:
            if procedure == "halving":
                from scalesearch.study.halving import rungs_for

                settings = dataclasses.replace(settings, rungs=rungs_for(truth.proxy_epochs, settings.reduction))
                # The rungs train with the explore seed: one the table has at every rung's length.
                order = first_among(order, set.intersection(*(set(truth.seeds(epochs)) for epochs in settings.rungs)))
            elif procedure != "default":
                settings = dataclasses.replace(settings, sampler=procedure)
            picked = replay_ours(truth, base, base_flops, settings, order)
    except MissingTraining as missing:
        return procedure, index, str(missing), time.perf_counter() - clock
    return procedure, index, picked, time.perf_counter() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default and NNI's, 20 replays each")
    parser.add_argument("--replays", type=int, default=100)
    parser.add_argument("--procedures", nargs="+", default=list(PROCEDURES), choices=PROCEDURES)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--csv", type=Path, default=None, help="one row per replay, written as they finish")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--seeds", default=None, help="the run's --seeds (default: the run's, auto); a number replays "
                                                       "fixed seeds, e.g. 3 on a table with 3 seeds so far")
    parser.add_argument("--max-seeds", type=int, default=None,
                        help="the run's --max-seeds with --seeds auto (default: the run's, 8)")
    parser.add_argument("--tie-break", default=None, choices=TIE_BREAKS,
                        help="the run's --tie-break (default: the run's default)")
    parser.add_argument("--truth-seeds", type=int, default=3,
                        help="the fewest seeds of the long training that make a network's true quality (default 3; "
                             "2 gives interim figures on a table still being built)")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.replays, arguments.procedures = 20, ["default", "nni"]
    truth = _table(arguments.table)
    qualities = truth.truth(arguments.truth_seeds)
    sd = truth.paired_sd()
    if qualities.empty or not truth.seeds():
        print(f"{arguments.table} holds no truth yet (≥ {arguments.truth_seeds} seeds at {truth.truth_epochs} epochs) or no seed every "
              f"network has at {truth.proxy_epochs}: build it further with bench/ground_truth.py", file=sys.stderr)
        sys.exit(2)
    best = truth.best(arguments.truth_seeds)
    print(f"machine: {machine()}")
    print(f"table: {arguments.table.name}, {len(truth.rows)} trainings; truth of {len(qualities)} networks, best "
          f"{best:.3f}, spread {qualities.min():.3f}…{best:.3f} (means of ≥ {arguments.truth_seeds} seeds); paired-seed sd of the long training {sd:.4f}; "
          f"proxy seeds {truth.seeds()}; run --seeds {arguments.seeds or 'default'}, --max-seeds "
          f"{arguments.max_seeds or 'default'}, --tie-break "
          f"{arguments.tie_break or 'default'}")
    writer = handle = None
    if arguments.csv:
        handle = arguments.csv.open("w", newline="")
        writer = csv.writer(handle)
        writer.writerow(["procedure", "replay", "pick", "outcome", "trainings", "compute", "regret", "seconds"])
    jobs = [(procedure, index, arguments.table, arguments.seeds, arguments.max_seeds,
             arguments.tie_break) for procedure in arguments.procedures
            for index in range(arguments.replays)]
    picks: dict[str, list] = {procedure: [] for procedure in arguments.procedures}
    missing: dict[str, str] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=arguments.jobs) as pool:
        for procedure, index, picked, seconds in pool.map(one_replay, jobs):
            if isinstance(picked, str):
                missing.setdefault(procedure, picked)
                continue
            regret = best - qualities.get(picked.architecture, float("nan"))
            picks[procedure].append((picked, regret))
            if writer:
                writer.writerow([procedure, index, picked.architecture, picked.outcome, picked.trainings,
                                 f"{picked.compute:.1f}", f"{regret:.4f}", f"{seconds:.2f}"])
                handle.flush()
    if handle:
        handle.close()
    medians = {}
    for procedure, results in picks.items():
        if procedure in missing:
            print(f"\n{procedure}: the table cannot answer it: {missing[procedure]}")
            continue
        regrets = sorted(regret for _, regret in results)
        known = [regret for regret in regrets if regret == regret]
        compute = statistics.median(picked.compute for picked, _ in results)
        within = sum(regret <= sd for regret in known)
        medians[procedure] = (compute, statistics.median(known) if known else float("nan"), within, len(results))
        regret = (f"regret median {medians[procedure][1]:.4f}, 90th percentile {known[int(0.9 * (len(known) - 1))]:.4f}, "
                  f"max {known[-1]:.4f}; within one paired sd of the best: {within}/{len(known)}" if known
                  else "no pick has a truth")
        untrue = sorted({picked.architecture for picked, regret in results if regret != regret})
        print(f"\n{procedure} ({len(results)} replays): median compute {compute:.0f} CPU s, "
              f"{statistics.median(picked.trainings for picked, _ in results):.0f} trainings; {regret}"
              + (f"; {len(regrets) - len(known)} picks without a truth (bench/ground_truth.py --networks "
                 f"{' '.join(untrue)})" if untrue else ""))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if "default" in medians and "nni" in medians:
        ours, nni = medians["default"], medians["nni"]
        print(f"ours/NNI compute {ours[0] / nni[0]:.2f} at median regret {ours[1]:.4f} ({ours[3]} replays; within "
              f"noise of the best in {100 * ours[2] / ours[3]:.0f}%)")
    if missing:
        sys.exit(2)


if __name__ == "__main__":
    main()
