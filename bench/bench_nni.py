"""NNI's procedure against ours, on the same proxy task (issue 12 §7).

NNI's EfficientNet example: the formula grid (α in [1, 2], β and γ in [1, 1.5], step 0.05) filtered to
|α·β²·γ² − 2| < 0.1 gives 108 points; each is trained once (seed 0, the cpu-tiny proxy exactly as
``scalesearch run`` builds it) with no dedupe, and the best accuracy is picked.
Ours: the default ``scalesearch run --budget 2x --seed 0`` (a finished run folder, e.g. the stability
bench's seed-0 run); its winner is the pick and its table gives its training seconds.

Compared: the total training seconds of each (sum of ``train_seconds``; load-dependent, so also a
load-independent count: Σ measured forward FLOPs × training images × epochs), and the true quality of each
pick: the mean over 5 seeds of a 4× longer training (16 epochs instead of 4), with its 95% Student-t
interval, and the paired difference of the two picks on the same seeds (the tool's verdict/statistics.py).

Goal: our compute ≤ 1/10 of NNI's at a true quality no worse than NNI's pick, within noise.

    python bench/bench_nni.py --run /tmp/bench-evidence/stability/seed-0

The 108 points hold fewer distinct networks (rounding of depth, width and pixels): each distinct network is
trained once, through the memo of bench/common.py, and a repeat is *charged* the seconds of that
training, as NNI, which does not dedupe, would pay them (a CPU training is deterministic, so a repeat
would give the same accuracy). Two trainings run at a time, one torch thread each, as a default run's
two trial slots do.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, NUM_CLASSES, Trainer, machine, preset, proxy_setup  # noqa: E402

from scalesearch.model.scaling import scale  # noqa: E402
from scalesearch.foundation.status import TrialStatus  # noqa: E402
from scalesearch.testing.ground_truth import nni_grid as shared_nni_grid  # noqa: E402
from scalesearch.verdict.statistics import estimate, paired_difference  # noqa: E402

BUDGET = 2.0


def nni_grid(space: str, preset_name: str) -> list:
    """NNI's 108 formula-grid candidates, in grid order, built as the tool builds a formula-mode candidate."""
    base, base_flops = proxy_setup(space, preset_name)
    return shared_nni_grid(base, base_flops, SimpleNamespace(budget=BUDGET, num_classes=NUM_CLASSES))


def _train(job: tuple) -> dict:
    """One training in a worker process (one torch thread, through the shared memo)."""
    preset_name, data, spec, seed, epochs = job
    return Trainer(preset_name, data=data).train(spec, seed, epochs)


def train_all(jobs: list[tuple], workers: int) -> list[dict]:
    # spawn, not fork: the parent has used torch (fvcore traces), and a forked OpenMP runtime can hang.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.map(_train, jobs, chunksize=1)


def our_run(folder: Path, space: str, preset_name: str, data: str) -> dict:
    """The default run's trainings and its pick, with the pick's network rebuilt (and checked by its id)."""
    table = pd.read_csv(folder / "trials.csv")
    winner = json.loads((folder / "winner.json").read_text())["verdict"]["winner"]
    trained = table[table["status"].isin([TrialStatus.COMPLETE, TrialStatus.FAILED, TrialStatus.PRUNED])
                    & table["train_seconds"].notna()]
    row = table[table["architecture"] == winner["architecture"]].iloc[0]
    base, _ = proxy_setup(space, preset_name)
    spec = scale(base, width=float(row["width"]), depth=float(row["depth"]), pixels=int(row["resolution"]))
    if spec.architecture() != winner["architecture"]:
        raise SystemExit(f"could not rebuild the run's winner {winner['architecture']} from its table row")
    run = json.loads((folder / "run.json").read_text())
    if run.get("seed") != 0 or run.get("preset", {}).get("name") != preset_name \
            or not str(run.get("data", "")).startswith(f"{data}:"):
        raise SystemExit(f"{folder} is not a default run with --seed 0 on {preset_name} and {data}")
    return {"table": table, "trained": trained, "winner": winner, "row": row, "spec": spec,
            "seed0_accuracy": float(table[(table["architecture"] == winner["architecture"])
                                          & (table["seed"] == 0)]["accuracy"].iloc[0])}


def forward_compute(flops, epochs, images_per_epoch: int) -> float:
    """Σ measured forward FLOPs × training images × epochs, in TFLOP (load-independent; backward is about
    twice the forward for every network alike, so the ratio between procedures is the same)."""
    return float(sum(f * e * images_per_epoch for f, e in zip(flops, epochs))) / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a finished default run with --seed 0; without it, NNI's side only "
                        "(its trainings land in the memo, so a later full run reuses them)")
    parser.add_argument("--space", default="efficientnet_b0")
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--data", default=DEFAULT_DATA, help="the run's --data (default: a default run's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--long-factor", type=int, default=4, help="true quality: this many times the proxy's epochs")
    parser.add_argument("--long-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", type=Path, help="write every figure here too")
    args = parser.parse_args()
    started = time.monotonic()
    print(machine(), flush=True)
    chosen = preset(args.preset)
    images_per_epoch = chosen.proxy_images // chosen.batch_size * chosen.batch_size  # the last partial batch is dropped
    base, base_flops = proxy_setup(args.space, args.preset)
    ours = check = None
    if args.run is not None:
        # First, and cheap: the bench's trainer must reproduce the run's trainings (seed 0 of its winner), or every
        # figure below compares unlike things (another data set, another recipe).
        ours = our_run(args.run, args.space, args.preset, args.data)
        check = Trainer(args.preset, data=args.data).train(ours["spec"], 0, chosen.epochs)
        if abs(check["accuracy"] - ours["seed0_accuracy"]) >= 1e-9:
            raise SystemExit(f"the bench's training of the run's winner gives {check['accuracy']}, the run's "
                             f"{ours['seed0_accuracy']}: not the run's training; nothing compared")

    # NNI: every grid point trained once with seed 0; distinct networks trained once here, repeats charged.
    grid = nni_grid(args.space, args.preset)
    print(f"NNI grid: {len(grid)} points with |α·β²·γ² − 2| < 0.1 (α in [1, 2], β, γ in [1, 1.5], step 0.05); "
          f"{len({c.spec.architecture() for c in grid})} distinct networks", flush=True)
    distinct = {}
    for point in grid:
        distinct.setdefault(point.spec.architecture(), point.spec)
    print(f"training {len(distinct)} distinct networks, seed 0, {chosen.epochs} epochs, {args.workers} at a time "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    clock = time.monotonic()
    results = dict(zip(distinct, train_all([(args.preset, args.data, spec, 0, chosen.epochs) for spec in distinct.values()],
                                           args.workers)))
    grid_wall = time.monotonic() - clock
    nni = pd.DataFrame([{"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "formula_product": c.formula_product,
                         "pixels": c.spec.resolution, "blocks": sum(s.repeats for s in c.spec.stages),
                         "flops": c.cost.flops, "flops_ratio": c.flops_ratio, "architecture": c.spec.architecture(),
                         "accuracy": results[c.spec.architecture()]["accuracy"],
                         "train_seconds": results[c.spec.architecture()]["train_seconds"],
                         "from_memo": results[c.spec.architecture()]["memo"]} for c in grid])
    # NNI picks the best accuracy; equal accuracies (repeats of one network, or a tie) go to the first in grid order.
    nni_pick = nni.loc[nni["accuracy"].idxmax()]
    nni_spec = distinct[nni_pick["architecture"]]

    long_epochs = args.long_factor * chosen.epochs
    if args.run is None:  # NNI's side only: its grid and its pick's long trainings
        long = train_all([(args.preset, args.data, nni_spec, seed, long_epochs) for seed in args.long_seeds],
                         args.workers)
        print(nni.drop_duplicates("architecture").sort_values("accuracy", ascending=False).head(5).to_string())
        print(f"NNI: {len(nni)} trainings, {nni['train_seconds'].sum():.0f} s; pick {nni_pick.to_dict()}; "
              f"{long_epochs} epochs: {[round(r['accuracy'], 3) for r in long]}; {grid_wall:.0f} s grid wall")
        return
    trained = ours["trained"]

    # True quality: both picks, 5 seeds, 4× the proxy's epochs, 2 at a time.
    picks = {"NNI": nni_spec, "ours": ours["spec"]}
    jobs = [(args.preset, args.data, spec, seed, long_epochs) for spec in picks.values() for seed in args.long_seeds]
    clock = time.monotonic()
    long_results = train_all(jobs, args.workers)
    long_wall = time.monotonic() - clock
    by_pick = {name: {seed: long_results[index * len(args.long_seeds) + position]["accuracy"]
                      for position, seed in enumerate(args.long_seeds)} for index, name in enumerate(picks)}
    quality = {name: estimate(seeds.values()) for name, seeds in by_pick.items()}
    difference = paired_difference(by_pick["ours"], by_pick["NNI"])

    figures = {
        "machine": machine(),
        "grid_points": len(nni), "grid_distinct": int(nni["architecture"].nunique()),
        "grid_trained_here": int(sum(not r["memo"] for r in results.values())), "grid_wall_seconds": grid_wall,
        "nni_seconds": float(nni["train_seconds"].sum()), "nni_trainings": len(nni),
        # what NNI's grid would cost if it trained each distinct network once, as the tool's own grid does
        "nni_dedupe_seconds": float(nni.drop_duplicates("architecture")["train_seconds"].sum()),
        "nni_dedupe_tflop": forward_compute(nni.drop_duplicates("architecture")["flops"],
                                            [chosen.epochs] * nni["architecture"].nunique(), images_per_epoch),
        "grid_load": [min(r["load"] for r in results.values()), max(r["load"] for r in results.values())],
        "long_load": [min(r["load"] for r in long_results), max(r["load"] for r in long_results)],
        "nni_tflop": forward_compute(nni["flops"], [chosen.epochs] * len(nni), images_per_epoch),
        "ours_seconds": float(trained["train_seconds"].sum()), "ours_trainings": len(trained),
        "ours_tflop": forward_compute(trained["flops"], trained["epochs"], images_per_epoch),
        "nni_pick": {key: (value.item() if hasattr(value, "item") else value) for key, value in nni_pick.items()},
        "ours_pick": {**{key: ours["winner"][key] for key in ("alpha", "beta", "gamma", "reference", "architecture")},
                      "pixels": ours["spec"].resolution, "blocks": sum(s.repeats for s in ours["spec"].stages),
                      "flops_ratio": float(ours["row"]["flops_ratio"]), "proxy_seed0_accuracy": ours["seed0_accuracy"]},
        "reproduced_run_training": True, "check_accuracy": check["accuracy"],  # else it stopped before the grid
        "long_epochs": long_epochs, "long_seeds": args.long_seeds, "long_wall_seconds": long_wall,
        "long_by_seed": by_pick, "quality": {name: q.to_dict() for name, q in quality.items()},
        "ours_minus_nni": difference.to_dict(), "bench_wall_seconds": time.monotonic() - started,
        "load_at_end": os.getloadavg(),
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    report(figures, nni, base_flops)


def report(f: dict, nni: pd.DataFrame, base_flops: int) -> None:
    seconds_ratio, compute_ratio = f["ours_seconds"] / f["nni_seconds"], f["ours_tflop"] / f["nni_tflop"]
    print(f"\n{f['machine']}")
    print(f"NNI grid: {f['grid_points']} points, {f['grid_distinct']} distinct networks "
          f"({f['grid_trained_here']} trained in this bench, the rest from the memo), {f['grid_wall_seconds']:.0f} s wall; "
          f"measured FLOPs {nni['flops_ratio'].min():.2f}–{nni['flops_ratio'].max():.2f}× the base "
          f"({int((abs(nni['flops_ratio'] - 2) < 0.1).sum())} of {len(nni)} within 0.1 of 2×)")
    print(f"NNI with dedupe (each distinct network once): {f['grid_distinct']} trainings, {f['nni_dedupe_seconds']:.0f} s, "
          f"{f['nni_dedupe_tflop']:.2f} TFLOP; load average (1 min) during the grid's trainings "
          f"{f['grid_load'][0]:.1f}–{f['grid_load'][1]:.1f}, during the long trainings "
          f"{f['long_load'][0]:.1f}–{f['long_load'][1]:.1f}")
    print(f"run's seed-0 training of its winner reproduced by the bench's trainer: {f['reproduced_run_training']} "
          f"({f['check_accuracy']:.3f} vs {f['ours_pick']['proxy_seed0_accuracy']:.3f})\n")
    print("| procedure | trainings | training seconds (Σ train_seconds) | forward TFLOP (Σ FLOPs × images × epochs) "
          "| pick (α, β, γ) | px | blocks | FLOPs × base | proxy accuracy (seed 0) | true quality: 16 epochs, 5 seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    n, o = f["nni_pick"], f["ours_pick"]
    qn, qo = f["quality"]["NNI"], f["quality"]["ours"]
    print(f"| NNI grid (formula, q = 0.05, tol. 0.1) | {f['nni_trainings']} | {f['nni_seconds']:.0f} | {f['nni_tflop']:.2f} "
          f"| ({n['alpha']:.2f}, {n['beta']:.2f}, {n['gamma']:.2f}) | {n['pixels']} | {n['blocks']} | {n['flops_ratio']:.2f} "
          f"| {n['accuracy']:.3f} | {qn['mean']:.3f} ± {(qn['high'] - qn['low']) / 2:.3f} |")
    label = f" {o['reference']}" if o["reference"] else ""
    print(f"| ours (default run, --seed 0) | {f['ours_trainings']} | {f['ours_seconds']:.0f} | {f['ours_tflop']:.2f} "
          f"| ({o['alpha']:.3f}, {o['beta']:.3f}, {o['gamma']:.3f}){label} | {o['pixels']} | {o['blocks']} "
          f"| {o['flops_ratio']:.2f} | {o['proxy_seed0_accuracy']:.3f} | {qo['mean']:.3f} ± {(qo['high'] - qo['low']) / 2:.3f} |")
    d = f["ours_minus_nni"]
    print(f"\nours ÷ NNI: {seconds_ratio:.3f} of the training seconds, {compute_ratio:.3f} of the forward FLOPs "
          f"(goal ≤ 0.100)")
    print(f"true quality, ours − NNI on paired seeds {f['long_seeds']}: {d['mean']:+.3f} ± {(d['high'] - d['low']) / 2:.3f} "
          f"(n={d['n']}; 95% t) → {_reading(d['low'], d['high'])}")
    print(f"per seed: NNI {', '.join(f'{a:.3f}' for a in f['long_by_seed']['NNI'].values())}; "
          f"ours {', '.join(f'{a:.3f}' for a in f['long_by_seed']['ours'].values())}")
    print(f"long trainings {f['long_wall_seconds']:.0f} s wall; bench {f['bench_wall_seconds']:.0f} s wall; "
          f"load average at the end {f['load_at_end'][0]:.1f}")
    top = nni.drop_duplicates("architecture").sort_values("accuracy", ascending=False).head(5)
    print("\nNNI grid's five best distinct networks (seed 0, 4 epochs):")
    for _, row in top.iterrows():
        print(f"  ({row['alpha']:.2f}, {row['beta']:.2f}, {row['gamma']:.2f}) {row['pixels']} px, {row['blocks']} blocks, "
              f"{row['flops_ratio']:.2f}× → {row['accuracy']:.3f}")


def _reading(low: float, high: float) -> str:
    """What a 95% interval of ours − NNI's says: the goal is "no worse", and an interval above 0 is more than that."""
    if low > 0:
        return "better beyond the noise"
    return "no worse within the noise" if high >= 0 else "worse beyond the noise"


if __name__ == "__main__":
    main()
