"""The default proxy's frontier (issue 19 §5): for each setting, the default run's time, how far scaling pays on its
``--curve``, and whether its ranking predicts a 4× longer training (``scalesearch check``), from real runs.

    python bench/bench_frontier.py --json /tmp/frontier.jsonl \\
        --setting "1200 img x 4 ep=" --setting "1200 img x 2 ep=--proxy-epochs 2"

Each setting is ``NAME=OPTIONS``: the extra ``scalesearch run`` options it differs from the default by. Per setting,
three commands through the real CLI, in one temp folder:

1. ``scalesearch run --budget 2x --seed S OPTIONS``: its process wall is the default run's time at that setting;
2. ``scalesearch run --resume RUN --curve``: the winner's and its rival's lines at φ 0–2 with the winner's seeds;
   the gain is the winner's line at φ 2 over φ 0, paired over seeds, in pooled seed sds (bench_planted.best_gain);
3. ``scalesearch check RUN --epochs-factor 4``: Kendall τ between the run's ranking and a 4× longer training's.

One JSON line per setting is appended as soon as it is measured, so a cut-short bench keeps what it has. Time is
only the tool's speed on a quiet machine: Ray's workers run at nice 15 (docs/design.md §5).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import bench_planted
import common

ROOT = Path(__file__).resolve().parent.parent


def _cli(*arguments: str) -> float:
    """Runs ``cli.py ARGUMENTS`` and returns its process wall seconds; its output is kept beside the run."""
    started = time.time()
    subprocess.run([sys.executable, str(ROOT / "cli.py"), *arguments], check=True, capture_output=True, text=True)
    return time.time() - started


def measure_setting(name: str, extra: list[str], seed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-frontier-"))
    run = folder / "run"
    run_seconds = _cli("run", "--budget", "2x", "--seed", str(seed), "--out", str(run), *extra)
    table = pd.read_parquet(run / "trials.parquet")
    trained = table[table["status"].isin(["complete", "failed", "pruned"])]
    verdict = json.loads((run / "winner.json").read_text()).get("verdict") or {}
    curve_seconds = _cli("run", "--resume", str(run), "--curve")
    curve = pd.read_csv(run / "curve.csv")
    finished = curve[(curve["status"] == "complete") & curve["accuracy"].notna()]
    rows = [{"line": row.role, "phi": int(row.phi), "seed": int(row.seed), "accuracy": float(row.accuracy)}
            for row in finished[finished["role"].isin(["base", "winner"])].itertuples()]
    gain = bench_planted.best_gain(rows) or {}
    check_seconds = _cli("check", str(run), "--epochs-factor", "4")
    check = json.loads((run / "check.json").read_text())
    return {"bench": "frontier", "setting": name, "options": extra, "seed": seed, "folder": str(folder),
            "run_seconds": run_seconds, "trainings": len(trained),
            "training_seconds": float(trained["train_seconds"].sum()),
            "seconds_per_training": float(trained["train_seconds"].median()),
            "verdict": verdict.get("sentence"), "outcome": verdict.get("outcome"),
            "winner": verdict.get("winner"),
            "curve_seconds": curve_seconds, "curve_gain": gain.get("gain"), "curve_gain_low": gain.get("low"),
            "curve_gain_high": gain.get("high"), "curve_n": gain.get("n"), "pooled_sd": gain.get("pooled_sd"),
            "gain_in_pooled_sd": gain.get("gain_in_pooled_sd"),
            "check_seconds": check_seconds, "tau": check.get("tau"), "tau_p": check.get("p_value"),
            "tau_n": check.get("n"), "load_average_after": os.getloadavg()[0], "machine": common.machine(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", action="append", required=True, help="NAME=OPTIONS (repeat)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="append one JSON line per setting")
    options = parser.parse_args()
    print("| setting | run s | trainings | median s/training | gain φ0→2 (pooled sd) | τ (n) | verdict |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for setting in options.setting:
        name, _, extra = setting.partition("=")
        result = measure_setting(name, extra.split(), options.seed)
        if options.json:
            with open(options.json, "a") as handle:
                handle.write(json.dumps(result) + "\n")
        print(f"| {name} | {result['run_seconds']:.0f} | {result['trainings']} | {result['seconds_per_training']:.1f} | "
              f"{result['curve_gain']:+.3f} ({result['gain_in_pooled_sd']:.1f}) | {result['tau']:.2f} "
              f"({result['tau_n']}) | {result['verdict']} |", flush=True)


if __name__ == "__main__":
    main()
