"""Run folders as the search writes them (trials table + run.json), built from made-up trials.

Used by the report and export tests. The
numbers imitate a CPU proxy search at budget 2 (accuracy ≈ 0.35–0.47, seed sd ≈ 0.03)
but no network was trained for them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from scalesearch.foundation.table import make_table, save_table

# A three-stage MBConv network at 32 px: all of B0..B7 of it are measured in a few seconds.
TINY_SPACE = '''
from scalesearch.model.spaces import SearchSpace, Stage, Stem

TINY = SearchSpace(
    name="tiny_mbconv",
    stem=Stem(channels=8),
    stages=(
        Stage("mbconv", 3, 1, 1, 8, 1, 0.25),
        Stage("mbconv", 3, 2, 4, 16, 1, 0.25),
        Stage("mbconv", 5, 2, 4, 24, 1, 0.25),
    ),
    head_channels=32,
    resolution=32,
)
'''


def _write_space(folder: Path, file_name: str, text: str, symbol: str) -> str:
    """The space file in ``folder``, as the CLI's --space takes it: path:NAME."""
    path = Path(folder) / file_name
    path.write_text(text)
    return f"{path}:{symbol}"


def write_tiny_space(folder: Path) -> str:
    return _write_space(folder, "tiny_space.py", TINY_SPACE, "TINY")


# Like TINY but with room to shrink: φ < 0 needs stages of two blocks or more and 16 channels or more (with the
# paper's coefficients its smallest φ is -3.801, as B0's: docs/design.md §3, "Below B0").
SHRINKABLE_SPACE = '''
from scalesearch.model.spaces import SearchSpace, Stage, Stem

SHRINKABLE = SearchSpace(
    name="shrinkable_mbconv",
    stem=Stem(channels=16),
    stages=(
        Stage("mbconv", 3, 1, 1, 16, 2, 0.25),
        Stage("mbconv", 3, 2, 4, 24, 2, 0.25),
        Stage("mbconv", 5, 2, 4, 40, 3, 0.25),
    ),
    head_channels=64,
    resolution=64,
)
'''


def write_shrinkable_space(folder: Path) -> str:
    return _write_space(folder, "shrinkable_space.py", SHRINKABLE_SPACE, "SHRINKABLE")


BASE_FLOPS, BASE_PARAMS, BASE_ACTIVATIONS, BASE_PIXELS = 727_232, 202_032, 36_448, 32


def trial(number: int, alpha: float, beta: float, gamma: float, *, status="complete", accuracy=None, seed=0,
          reference=None, feasible=True, reason=None, duplicate_of=None, budget=2.0, flops_ratio=None, latency=True) -> dict:
    """One row as the search records it; FLOPs follow the formula times a rounding wobble unless given."""
    product = alpha * beta**2 * gamma**2
    ratio = flops_ratio if flops_ratio is not None else product * (1 + 0.08 * np.sin(7 * alpha + 3 * beta))
    trained = status in ("complete", "duplicate") and accuracy is not None
    resolution = round(BASE_PIXELS * gamma)
    record = {
        "trial": number, "status": status, "reference": reference, "feasible": feasible, "reason": reason,
        "duplicate_of": duplicate_of, "alpha": alpha, "beta": beta, "gamma": gamma, "formula_product": product,
        "flops_ratio": ratio, "width": beta, "depth": alpha, "resolution": resolution,
        "flops": int(BASE_FLOPS * ratio), "params": int(BASE_PARAMS * beta**2 * alpha),
        "activations": int(BASE_ACTIVATIONS * alpha * beta * gamma**2),
        "sampler": "tpe", "constraint": "measured", "budget": budget, "device": "cpu", "seed": seed,
        "architecture": f"d{alpha:.2f}-w{beta:.2f}-r{resolution}",
        "started": f"2026-11-23T12:{number:02d}:00+00:00", "finished": f"2026-11-23T12:{number:02d}:10+00:00",
    }
    if trained:
        record.update(accuracy=accuracy, loss=2.3 - 2 * accuracy, train_loss=2.2 - 2 * accuracy, epochs=4,
                      train_seconds=9.5 + 4 * (ratio - 1), images_per_second=800 / ratio,
                      latency_ms=(3.1 * ratio * (0.9 + 0.2 * beta)) if latency else None,
                      latency_ms_batch=(40 * ratio) if latency else None)
    return record


def demo_records(budget: float = 2.0) -> list[dict]:
    """About 24 trials: the five references first, searched trials, duplicates, infeasible and failed ones,
    and the winner's network trained with three seeds."""
    rng = np.random.default_rng(7)
    rows = [
        trial(0, 1.2, 1.1, 1.19, reference="paper", accuracy=0.457, budget=budget),
        trial(1, 1.2, 1.1, 1.15, reference="paper-literal", accuracy=0.462, feasible=False, flops_ratio=2.55,
              reason="measured 2.55x, off the 2x budget by more than 10%", budget=budget),
        trial(2, 2.0, 1.0, 1.0, reference="depth-only", accuracy=0.347, budget=budget),
        trial(3, 1.0, 1.414, 1.0, reference="width-only", accuracy=0.317, budget=budget),
        trial(4, 1.0, 1.0, 1.414, reference="resolution-only", accuracy=0.427, budget=budget),
    ]
    number = 5
    for alpha in (1.05, 1.1, 1.15, 1.25, 1.3, 1.35, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9):
        beta = 1.0 + 0.3 * rng.random()
        gamma = float(np.sqrt(budget / (alpha * beta**2)))
        if gamma < 1:
            rows.append(trial(number, alpha, beta, 1.0, status="infeasible", feasible=False, budget=budget,
                              reason=f"alpha*beta^2 = {alpha * beta**2:.2f} exceeds the budget even at gamma = 1"))
        else:
            quality = 0.47 - 0.12 * (alpha - 1.25) ** 2 - 0.2 * (beta - 1.08) ** 2 + rng.normal(0, 0.02)
            rows.append(trial(number, alpha, beta, gamma, accuracy=round(float(quality), 4), budget=budget))
        number += 1
    best = max((row for row in rows if row.get("accuracy") is not None and row["feasible"]), key=lambda row: row["accuracy"])
    rows.append(trial(number, best["alpha"], best["beta"], best["gamma"], status="duplicate", accuracy=best["accuracy"],
                      duplicate_of=best["trial"], reason=f"same network as trial {best['trial']}", budget=budget))
    rows.append(trial(number + 1, 1.45, 1.05, 1.1, status="failed", budget=budget,
                      reason="RuntimeError: loss became NaN at epoch 2"))
    for offset, seed in enumerate((1, 2)):
        rows.append(trial(number + 2 + offset, best["alpha"], best["beta"], best["gamma"], seed=seed, budget=budget,
                          accuracy=round(best["accuracy"] - 0.02 - 0.025 * offset, 4)))
    return rows


def run_json(name: str = "run-20261123-120000", space: str = "efficientnet_b0", **overrides) -> dict:
    meta = {
        "format": "scalesearch.run", "version": 1, "name": name, "status": "complete",
        "command": "scalesearch run --budget 2x", "space": space, "budget": 2.0, "tolerance": 0.1,
        "constraint": "measured", "sampler": "tpe", "trials": 24, "seed": 0,
        "proxy_base": {"width": 0.25, "depth": 0.34, "resolution": 32, "flops": BASE_FLOPS, "params": BASE_PARAMS,
                       "activations": BASE_ACTIVATIONS},
        "data": "synthetic: 10 classes, 2000 train / 1000 val images at 64 px",
        "preset": {"name": "cpu-tiny", "epochs": 4, "batch_size": 128}, "device": "cpu", "num_classes": 10,
        "grid": None, "started": "2026-11-23T12:00:00+00:00", "finished": "2026-11-23T12:03:00+00:00",
        "wall_seconds": 180.5,
        "versions": {"scalesearch": "0.1.0", "torch": "2.13.0", "optuna": "5.0.0", "ray": "2.60.0", "python": "3.11.7"},
        "machine": {"platform": "Linux-6.1-x86_64", "cpus": 2, "gpus": []},
    }
    meta.update(overrides)
    return meta


def make_run(run_dir: Path, records: list[dict] | None = None, **meta) -> Path:
    """A run folder: trials.parquet + trials.csv (results.save_table) and run.json."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_table(make_table(demo_records() if records is None else records), run_dir)
    (run_dir / "run.json").write_text(json.dumps(run_json(**meta), indent=2))
    return run_dir
