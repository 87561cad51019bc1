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

    python bench/bench_replay.py --world peak --delta 3 --replays 100 --procedures default random grid nni

``--world`` replays on made-up tables instead (no training, and not the default task): replay i's table is what world
i (scalesearch/testing/worlds.py; a ``peak`` world draws its own best split) would give every network, at the
proxy's length and, with other noise, at the truth's. The truth is then the world's own, noise-free, so regret is
exact and is also said in paired-seed sds of the world; the charged seconds are made up (FLOPs ratio × epochs).
``halving`` is refused there: a world has no learning curve, so its short rung would be made up too.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402
from run_knobs import RunKnobs, proxy_setup  # noqa: E402

from scalesearch.testing.calibration import COMPOUND, RIGHT, UNDECIDED, WRONG, graded  # noqa: E402
from scalesearch.testing.ground_truth import GroundTruth, MissingTraining, networks_of, nni_grid, world_table  # noqa: E402
from scalesearch.testing.procedures import first_among, replay_nni, replay_ours, seed_order  # noqa: E402
from scalesearch.testing.worlds import WORLDS, World  # noqa: E402
from scalesearch.verdict.verdict import BETTER, WORSE  # noqa: E402

TABLE = Path(__file__).resolve().parent / "ground_truth" / "default_task.csv"
# A procedure: "default" is the default run; a sampler's name is the default run with that sampler; "halving" the
# default run with --fidelity halving (its rungs: 1 and 4 epochs, as the run would make them for cpu-tiny).
PROCEDURES = ("default", "tpe", "gp", "random", "grid", "halving", "nni")

_TRUTH: GroundTruth | None = None
_NETWORKS: dict | None = None


def _table(path: Path) -> GroundTruth:
    global _TRUTH
    if _TRUTH is None:
        _TRUTH = GroundTruth.load(path)
    return _TRUTH


def _networks(base, base_flops: int, settings) -> dict:
    global _NETWORKS
    if _NETWORKS is None:
        _NETWORKS = networks_of(base, base_flops, settings)
    return _NETWORKS


def world_truth(world: World, base, networks: dict) -> tuple[GroundTruth, dict[str, float]]:
    """Replay ``world``'s table, and every network's noise-free truth there."""
    from scalesearch.model.scaling import ModelSpec

    truth_world = dataclasses.replace(world, replay=-1 - world.replay)  # the same truth, other noise
    qualities = {}
    for architecture, network in networks.items():
        spec = ModelSpec.from_dict(json.loads(network["spec"]))
        qualities[architecture] = world.truth(spec.depth, spec.width, spec.resolution / base.resolution)
    # A run meets at most 1 + 8 seeds (the explore seed, then --max-seeds): a world can give any number.
    return GroundTruth(world_table(base, networks, world, truth_world, proxy_seeds=12)), qualities


def world_answer(network: dict) -> str:
    """The right verdict on a world, from the best network a run can pick there: "compound" where it scales two
    dimensions or more, else its dimension ("width-only"). The network set's, not the world's continuum: where a
    world's best split has no network near it, a single dimension can be the best a run can build."""
    from scalesearch.verdict.verdict import Network, single_dimension

    labels = [label for label in network["references"].split("+") if label]
    best = Network(network["architecture"], labels[0] if labels else "", network["alpha"], network["beta"],
                   network["gamma"], True, {}, {})
    return single_dimension(best) or COMPOUND


def one_replay(job: tuple) -> tuple:
    """(procedure, replay, Picked or the missing training's message, regret, paired sd, seconds), in a worker
    process. Regret and sd are the table's truth's, or on a world its own (noise-free, and sqrt(2) × its own sd)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    procedure, index, path, knobs, truth_seeds, world = job
    base, base_flops = proxy_setup()
    settings = knobs.settings(index)
    answer = None  # on a world: the verdict's right outcome there
    if world is None:
        truth = _table(path)
        qualities = truth.truth(truth_seeds).to_dict()
        best, sd = truth.best(truth_seeds), truth.paired_sd()
    else:
        world = World(world[0], world[1], replay=index)
        networks = _networks(base, base_flops, settings)
        truth, qualities = world_truth(world, base, networks)
        pickable = [name for name, network in networks.items() if network["feasible"] and not network["nni_only"]]
        leader = max(pickable, key=qualities.__getitem__)
        best, answer = qualities[leader], world_answer(networks[leader])
        sd = math.sqrt(2) * world.own_sd
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
        return procedure, index, (str(missing), "", None, ()), math.nan, sd, time.perf_counter() - clock
    regret = best - qualities.get(picked.architecture, math.nan)
    label = truth.references().get(picked.architecture, "searched")
    grade = None if answer is None or not picked.outcome else graded(picked.outcome, picked.dimension, answer)
    claims = secondary_claims(picked, qualities)
    return procedure, index, (picked, label, grade, claims), regret, sd, time.perf_counter() - clock


def secondary_claims(picked, qualities: dict[str, float]) -> tuple[tuple[str, bool], ...]:
    """(the reference's label, whether the truth contradicts it) for each claim beyond the noise against the paper's
    point or dWr: a claim is contradicted where the true difference is 0 or of the other sign."""
    claims = []
    for against, finding, architecture in picked.secondary:
        if finding in (BETTER, WORSE):
            true = qualities.get(picked.architecture, math.nan) - qualities.get(architecture, math.nan)
            claims.append((against, not (true > 0 if finding == BETTER else true < 0)))
    return tuple(claims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default and NNI's, 20 replays each")
    parser.add_argument("--replays", type=int, default=100)
    parser.add_argument("--procedures", nargs="+", default=list(PROCEDURES), choices=PROCEDURES)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--csv", type=Path, default=None, help="one row per replay, written as they finish")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--truth-seeds", type=int, default=3,
                        help="the fewest seeds of the long training that make a network's true quality (default 3; "
                             "2 gives interim figures on a table still being built)")
    parser.add_argument("--world", choices=[kind for kind in WORLDS if kind != "null"], default=None,
                        help="replay on made-up tables of this world instead, one world a replay (see above)")
    parser.add_argument("--delta", type=float, default=3.0, help="with --world: its planted effect, in paired sds")
    RunKnobs.add_arguments(parser)
    arguments = parser.parse_args()
    knobs = RunKnobs.from_arguments(arguments)
    if arguments.quick:
        arguments.replays, arguments.procedures = 20, ["default", "nni"]
    if arguments.world and "halving" in arguments.procedures:
        print("halving cannot be replayed on a --world: a world has no learning curve; leave it out", file=sys.stderr)
        sys.exit(2)
    run = knobs.describe()
    print(f"machine: {machine()}")
    if arguments.world:
        print(f"worlds: {arguments.world} at {arguments.delta:g} paired sds, one a replay (made-up tables, not the "
              f"default task); {run}")
    else:
        truth = _table(arguments.table)
        qualities = truth.truth(arguments.truth_seeds)
        if qualities.empty or not truth.seeds():
            print(f"{arguments.table} holds no truth yet (≥ {arguments.truth_seeds} seeds at {truth.truth_epochs} "
                  f"epochs) or no seed every network has at {truth.proxy_epochs}: build it further with "
                  f"bench/ground_truth.py", file=sys.stderr)
            sys.exit(2)
        best = truth.best(arguments.truth_seeds)
        print(f"table: {arguments.table.name}, {len(truth.rows)} trainings; truth of {len(qualities)} networks, best "
              f"{best:.3f}, spread {qualities.min():.3f}…{best:.3f} (means of ≥ {arguments.truth_seeds} seeds); "
              f"paired-seed sd of the long training {truth.paired_sd():.4f}; proxy seeds {truth.seeds()}; {run}")
    writer = handle = None
    if arguments.csv:
        handle = arguments.csv.open("w", newline="")
        writer = csv.writer(handle)
        writer.writerow(["procedure", "replay", "pick", "reference", "outcome", "grade", "trainings", "compute", "regret",
                         "seconds", "secondary_claims", "contradicted"])
    world = (arguments.world, arguments.delta) if arguments.world else None
    jobs = [(procedure, index, arguments.table, knobs, arguments.truth_seeds, world) for procedure in arguments.procedures for index in range(arguments.replays)]
    picks: dict[str, list] = {procedure: [] for procedure in arguments.procedures}
    labels: dict[str, Counter] = {procedure: Counter() for procedure in arguments.procedures}  # the picks' references
    grades: dict[str, Counter] = {procedure: Counter() for procedure in arguments.procedures}  # on a world
    secondary: dict[str, Counter] = {procedure: Counter() for procedure in arguments.procedures}
    missing: dict[str, str] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=arguments.jobs) as pool:
        for procedure, index, (picked, label, grade, claims), regret, sd, seconds in pool.map(one_replay, jobs):
            if isinstance(picked, str):
                missing.setdefault(procedure, picked)
                continue
            picks[procedure].append((picked, regret, sd))
            secondary[procedure] += Counter({"comparisons": len(picked.secondary), "claims": len(claims),
                                             "contradicted": sum(wrong for _, wrong in claims)})
            labels[procedure][label or "searched"] += 1
            if grade:
                grades[procedure][grade] += 1
            if writer:
                writer.writerow([procedure, index, picked.architecture, label, picked.outcome, grade or "", picked.trainings,
                                 f"{picked.compute:.1f}", f"{regret:.4f}", f"{seconds:.2f}",
                                 "+".join(against for against, _ in claims), sum(wrong for _, wrong in claims)])
                handle.flush()
    if handle:
        handle.close()
    medians = {}
    for procedure, results in picks.items():
        if procedure in missing:
            print(f"\n{procedure}: the table cannot answer it: {missing[procedure]}")
            continue
        known = sorted((regret, sd) for _, regret, sd in results if regret == regret)
        regrets = [regret for regret, _ in known]
        compute = statistics.median(picked.compute for picked, _, _ in results)
        within = sum(regret <= sd for regret, sd in known)
        medians[procedure] = (compute, statistics.median(regrets) if known else float("nan"), within, len(results))
        in_sds = sorted(regret / sd for regret, sd in known)
        regret = (f"regret median {medians[procedure][1]:.4f}, 90th percentile {regrets[int(0.9 * (len(known) - 1))]:.4f}, "
                  f"max {regrets[-1]:.4f} (in paired sds {statistics.median(in_sds):.2f}, "
                  f"{in_sds[int(0.9 * (len(known) - 1))]:.2f}, {in_sds[-1]:.2f}); within one paired sd of the best: "
                  f"{within}/{len(known)}" if known else "no pick has a truth")
        untrue = sorted({picked.architecture for picked, regret, _ in results if regret != regret})
        outcomes = Counter(picked.outcome for picked, _, _ in results if picked.outcome)
        print(f"\n{procedure} ({len(results)} replays): median compute {compute:.0f} CPU s, "
              f"{statistics.median(picked.trainings for picked, _, _ in results):.0f} trainings; {regret}"
              + (f"; {len(results) - len(known)} picks without a truth (bench/ground_truth.py --networks "
                 f"{' '.join(untrue)})" if untrue else "")
              + "; picks: " + ", ".join(f"{name} {count}" for name, count in labels[procedure].most_common())
              + ("; outcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.most_common())
                 if outcomes else "")
              + ("; verdicts against the world's answer: " + ", ".join(
                  f"{name} {grades[procedure][name]}" for name in (RIGHT, WRONG, UNDECIDED))
                 if grades[procedure] else "")
              + (f"; claims against the paper's point or dWr: {secondary[procedure]['claims']} of "
                 f"{secondary[procedure]['comparisons']} comparisons, the truth contradicts "
                 f"{secondary[procedure]['contradicted']}" if secondary[procedure]['comparisons'] else ""))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if "default" in medians and "nni" in medians:
        ours, nni = medians["default"], medians["nni"]
        print(f"ours/NNI compute {ours[0] / nni[0]:.2f} at median regret {ours[1]:.4f} ({ours[3]} replays; within "
              f"noise of the best in {100 * ours[2] / ours[3]:.0f}%)")
    if missing:
        sys.exit(2)


if __name__ == "__main__":
    main()
