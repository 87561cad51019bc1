"""The ground-truth table of the default task (issue 20 §1): every distinct network a default search can propose on
budget at 2×, every reference, and NNI's grid networks, trained at ¼, ½, 1 and 4 × the proxy's epochs with 5 paired seeds (8 at the proxy's length), by the tool's
own training code. A replay (bench/bench_replay.py) answers each "training" of a procedure from it.

    python bench/ground_truth.py                       # resumes where the table stops; Ctrl-C keeps every finished row
    python bench/ground_truth.py --plan                # what it would train, and its estimated CPU time, nothing more
    python bench/ground_truth.py --seeds 0 1 2 --factors 1 4   # a first pass: the proxy and the truth, 3 seeds

The networks are those of the default ``scalesearch run --budget 2x`` (``prepare`` of its default options): the
continuous samplers' share grid (51 × 51 on ``SHARE_STEP``) mapped and re-solved in resolution as the study does
(``measure_candidate``), kept where on budget, plus every reference however it is solved; distinct by the table's
``architecture``. The data are the default run's (``--seed 0`` picks the subset); training seed s is the run's seed s
(init, order, augmentation), so every network's seed s is paired with every other's. A row is one training:
network, epochs, seed, the final validation accuracy and loss, its per-epoch accuracies, its wall and CPU seconds.

Rows are appended to the CSV one whole line at a time as trainings finish; a rerun skips every (architecture,
epochs, seed) the CSV has, so the table is built across sessions. The order is seed-major within passes (the proxy's
length and the truth first, then the shorter rungs, then the further seeds), so a table cut short has whole,
paired seeds. Beside the CSV, ``.meta.json`` records the command, commits, machines and the settings.

Stopping it: Ctrl-C in its terminal reaches its workers too. Started in the background (`nohup … &`), it ignores
SIGINT, as a non-interactive shell's background job does; SIGTERM its worker processes (by their ids): it then ends
on the broken pool, every finished row kept (2026-12-07). A SIGINT to the main process alone did not end it within
200 s: its worker went on training, with nobody to record the results.
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "bench" / "ground_truth" / "default_task.csv"
FIELDS = ("architecture", "references", "nni_only", "alpha", "beta", "gamma", "resolution", "flops", "flops_ratio", "feasible",
          "epochs", "factor", "seed", "accuracy", "loss", "history", "train_seconds", "cpu_seconds", "spec")
FACTORS = (1.0, 4.0, 0.25, 0.5)  # × the proxy's epochs; the order is the passes' order


def default_networks():
    """(Prepared, {architecture: row fields}) for the default run: its share grid on budget and its references."""
    from scalesearch.pipeline.options import RunOptions, validate
    from scalesearch.pipeline.prepare import prepare
    from scalesearch.testing.ground_truth import networks_of

    prepared = prepare(validate(RunOptions()))
    return prepared, networks_of(prepared.base, prepared.base_cost.flops, prepared.search_settings)


def plan(networks: dict, proxy_epochs: int, factors: list[float], seeds: list[int], proxy_seeds: list[int],
         done: set) -> list[tuple]:
    """(architecture, epochs, factor, seed) still to train, in the passes' order: the search's networks first (the
    first 3 seeds at the proxy's length and the truth's, then at the shorter rungs, then the further seeds, then the
    proxy's length alone to ``proxy_seeds``: a default run's --seeds auto gives the networks it compares up to 8);
    then NNI's own networks at the proxy's length (NNI trains each once: its seeds are the replays') and the truth's
    (3 seeds: the regret of its pick)."""
    search = [architecture for architecture, row in networks.items() if not row["nni_only"]]
    nni = [architecture for architecture, row in networks.items() if row["nni_only"]]
    passes = [(search, seeds[:3], [f for f in factors if f >= 1]), (search, seeds[:3], [f for f in factors if f < 1]),
              (search, seeds[3:], factors), (search, proxy_seeds, [1.0]),
              (nni, seeds, [1.0]), (nni, seeds[:3], [f for f in factors if f > 1])]
    jobs = []
    for architectures, pass_seeds, pass_factors in passes:
        for seed in pass_seeds:
            for factor in pass_factors:
                epochs = max(1, round(proxy_epochs * factor))
                for architecture in architectures:
                    key = (architecture, epochs, seed)
                    if key not in done:
                        done.add(key)
                        jobs.append((architecture, epochs, factor, seed))
    return jobs


_PREPARED = None


def _train(job):
    """One training in a worker process (one torch thread, as a search gives each CPU trial)."""
    global _PREPARED
    import torch

    from scalesearch.model.scaling import ModelSpec
    from scalesearch.pipeline.options import RunOptions, validate
    from scalesearch.pipeline.prepare import prepare
    from scalesearch.training.proxy import proxy_config, train_proxy

    torch.set_num_threads(1)
    spec_json, epochs, seed = job
    if _PREPARED is None:
        _PREPARED = prepare(validate(RunOptions()))
    config = proxy_config({**_PREPARED.trial_settings, "epochs": epochs, "seed": seed})
    started = time.process_time()
    result = train_proxy(ModelSpec.from_dict(json.loads(spec_json)), _PREPARED.dataset, config)
    return {"accuracy": result.accuracy, "loss": result.loss, "train_seconds": result.train_seconds,
            "history": json.dumps([round(epoch["accuracy"], 5) for epoch in result.history]),
            "cpu_seconds": time.process_time() - started}


def _done(path: Path) -> set:
    if not path.exists():
        return set()
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(row["architecture"], int(row["epochs"]), int(row["seed"])) for row in rows if row.get("cpu_seconds")}


def _record_meta(path: Path, prepared, networks: dict, arguments: list[str]) -> None:
    meta_path = path.with_suffix(".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sessions": []}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    meta.update({"task": "the default scalesearch run --budget 2x (its data, preset, base, share grid, references)",
                 "data": "synthetic:detail, run --seed 0", "preset": repr(prepared.preset),
                 "trial_settings": prepared.trial_settings, "networks": len(networks),
                 "search_networks_on_budget": sum(bool(row["feasible"]) and not row["nni_only"]
                                                  for row in networks.values()),
                 "nni_only_networks": sum(bool(row["nni_only"]) for row in networks.values())})
    meta["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": commit.strip(),
                             "command": "python bench/ground_truth.py " + " ".join(arguments),
                             "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"})
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    parser.add_argument("--proxy-seeds", type=int, nargs="+", default=list(range(8)),
                        help="the seeds at the proxy's own length (default 0-7: as many as --seeds auto gives)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--plan", action="store_true", help="print what is left to train and stop")
    parser.add_argument("--networks", nargs="+", default=None, metavar="ARCHITECTURE",
                        help="train these networks only (e.g. the picks a replay has no truth for: bench_replay.py "
                             "names them), in every pass they belong to")
    options = parser.parse_args()
    prepared, networks = default_networks()
    everything = networks
    if options.networks:
        unknown = sorted(set(options.networks) - set(networks))
        if unknown:
            parser.error(f"not a network of the default task: {', '.join(unknown)}")
        networks = {architecture: row for architecture, row in networks.items() if architecture in options.networks}
    proxy_epochs = prepared.trial_settings["epochs"]
    jobs = plan(networks, proxy_epochs, options.factors, options.seeds, options.proxy_seeds, _done(options.table))
    epochs_left = sum(epochs for _, epochs, _, _ in jobs)
    nni = sum(bool(row["nni_only"]) for row in networks.values())
    print(f"{len(networks) - nni} search networks ({sum(bool(r['feasible']) for r in networks.values() if not r['nni_only'])}"
          f" on budget) and {nni} of NNI's grid besides; "
          f"{len(jobs)} trainings left, {epochs_left} epochs (≈ {epochs_left * 5 / 3600 / options.jobs:.1f} h at "
          f"5 s an epoch on {options.jobs} slots)", flush=True)
    if options.plan or not jobs:
        return
    options.table.parent.mkdir(parents=True, exist_ok=True)
    _record_meta(options.table, prepared, everything, sys.argv[1:])
    fresh = not options.table.exists()
    with open(options.table, "a", newline="") as handle, \
            ProcessPoolExecutor(options.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        writer = csv.DictWriter(handle, FIELDS)
        if fresh:
            writer.writeheader()
        futures = {pool.submit(_train, (networks[architecture]["spec"], epochs, seed)): (architecture, epochs, factor, seed)
                   for architecture, epochs, factor, seed in jobs}
        for count, future in enumerate(as_completed(futures), 1):
            architecture, epochs, factor, seed = futures[future]
            row = {**networks[architecture], "epochs": epochs, "factor": factor, "seed": seed, **future.result()}
            writer.writerow(row)
            handle.flush()
            print(f"[{count}/{len(jobs)}] {row['references'] or architecture[:40]} {epochs} ep seed {seed}: "
                  f"{row['accuracy']:.3f} ({row['cpu_seconds']:.0f} CPU s)", flush=True)


if __name__ == "__main__":
    main()
