"""How often is the verdict wrong? The whole decision path of a default run, replayed many times on worlds with a
known answer (scalesearch/testing/worlds.py), no training: false wins on a world with no difference, the right
verdict on a world with a planted difference, and wrong-direction verdicts.

    python bench/bench_calibration.py --quick            # < 5 min on 2 cores: null and compound at 2 sd
    python bench/bench_calibration.py --replays 200 --deltas 1 2 3 --worlds null compound width --csv out.csv

Each replay is a default run's decision path (scalesearch/testing/calibration.py): efficientnet_b0 on the cpu-tiny
proxy base, budget 2x measured, the tpe sampler, the preset's trials, the references, seeds and confirm as the run's
defaults, with its own search seed and noise. Rates carry 95% Wilson intervals over the replays.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402
from run_knobs import RunKnobs, proxy_setup  # noqa: E402

from scalesearch.testing.calibration import RIGHT, WRONG, replay  # noqa: E402
from scalesearch.testing.worlds import World  # noqa: E402


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at 0 and at small n, where the normal one is not)."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def one_replay(job: tuple) -> tuple:
    """(world kind, delta, index, Replay, seconds): one replay, in a worker process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind, delta, index, own_sd, shared_sd, knobs = job
    base, base_flops = proxy_setup()
    world = World(kind, delta, own_sd=own_sd, shared_sd=shared_sd, replay=index)
    clock = time.perf_counter()
    result = replay(world, base, base_flops, knobs.settings(index))
    return kind, delta, index, result, time.perf_counter() - clock


def rate(count: int, n: int) -> str:
    low, high = wilson(count, n)
    return f"{100 * count / n:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="null and compound at 2 sd, 40 replays each")
    parser.add_argument("--replays", type=int, default=100)
    parser.add_argument("--worlds", nargs="+", default=["null", "compound", "depth", "width", "resolution"])
    parser.add_argument("--deltas", nargs="+", type=float, default=[2.0], help="planted effects, in paired sds")
    parser.add_argument("--own-sd", type=float, default=0.02)
    parser.add_argument("--shared-sd", type=float, default=0.02)
    parser.add_argument("--csv", type=Path, default=None, help="one row per replay, written as they finish")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="replays at once (processes)")
    RunKnobs.add_arguments(parser)
    arguments = parser.parse_args()
    knobs = RunKnobs.from_arguments(arguments)
    if arguments.quick:
        arguments.replays, arguments.worlds, arguments.deltas = 40, ["null", "compound"], [2.0]
    print(f"machine: {machine()}; {knobs.describe()}")
    worlds = [(kind, 0.0) if kind == "null" else (kind, delta) for kind in arguments.worlds
              for delta in ([0.0] if kind == "null" else arguments.deltas)]
    writer, handle = None, None
    if arguments.csv:
        handle = arguments.csv.open("w", newline="")
        writer = csv.writer(handle)
        writer.writerow(["world", "delta", "replay", "outcome", "dimension", "grade", "winner_leans", "versus_paper_claim",
                         "versus_paper_truth", "versus_fast_compound_claim", "versus_fast_compound_truth", "trainings",
                         "seconds"])
    jobs = [(kind, delta, index, arguments.own_sd, arguments.shared_sd, knobs) for kind, delta in worlds for index in range(arguments.replays)]
    results: dict[tuple, list] = {world: [] for world in worlds}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=arguments.jobs) as pool:
        for kind, delta, index, result, seconds in pool.map(one_replay, jobs):
            results[(kind, delta)].append(result)
            if writer:
                writer.writerow([kind, delta, index, result.verdict.outcome, result.verdict.dimension, result.grade,
                                 result.winner_leans, result.versus_paper_claim, f"{result.versus_paper_truth:.4f}",
                                 result.versus_fast_compound_claim, f"{result.versus_fast_compound_truth:.4f}",
                                 result.trainings, f"{seconds:.2f}"])
                handle.flush()
    summary = {}
    for (kind, delta), replays in results.items():
        n = len(replays)
        grades = Counter(result.grade for result in replays)
        leans = Counter(result.winner_leans for result in replays)
        paper = Counter(result.versus_paper_claim for result in replays)
        secondary = sum(bool(result.versus_paper_claim) + bool(result.versus_fast_compound_claim) for result in replays)
        false_secondary = sum(result.false_secondary_claims for result in replays)
        trainings = sum(result.trainings for result in replays)
        summary[(kind, delta)] = grades
        print(f"\n{kind} world, delta {delta:g} sd ({n} replays, {trainings / n:.1f} trainings each):")
        print(f"  right {rate(grades[RIGHT], n)} · wrong {rate(grades[WRONG], n)} · undecided "
              f"{rate(n - grades[RIGHT] - grades[WRONG], n)}")
        print("  winner's largest share: " + ", ".join(f"{k or 'base'} {v}" for k, v in leans.most_common()))
        print(f"  against the paper's point beyond the noise: better {paper[1]}, worse {paper[-1]} of {n}")
        print(f"  claims against the paper's point or dWr: {secondary}, of which the truth contradicts {false_secondary}")
    if handle:
        handle.close()
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    null = summary.get(("null", 0.0))
    planted = summary.get(("compound", 2.0))
    n = arguments.replays
    if null is not None and planted is not None:
        print(f"false wins {100 * null[WRONG] / n:.1f}% on the null world; right verdict {100 * planted[RIGHT] / n:.1f}% "
              f"at 2 sd ({n} replays)")


if __name__ == "__main__":
    main()
