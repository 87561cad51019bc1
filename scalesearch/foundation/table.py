"""The one results table: its fixed columns (the one definition of a trial's fields), built, saved as CSV and
Parquet, and loaded. Every layer may read it; who won is runs/winner.py's.

Everything downstream (report, export, winner choice) reads only this table
(plus the run's metadata in run.json for provenance).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from scalesearch.foundation.atomic import atomic_path
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.run_files import TABLE_CSV, TABLE_PARQUET

# A table written before a column was added still loads (that column empty); these it cannot lack.
REQUIRED_COLUMNS = {"trial", "status", "alpha", "beta", "gamma", "flops", "accuracy"}
STATUSES = tuple(TrialStatus)  # the table's order of statuses (the report's legend and counts)

# name: (pandas dtype, meaning). The order is the table's column order.
COLUMNS: dict[str, tuple[str, str]] = {
    "trial": ("Int64", "Optuna trial number"),
    "status": ("string", "complete | infeasible | duplicate | failed | pruned | running"),
    "reference": ("string", "paper | paper-literal | depth-only | width-only | resolution-only, empty for searched trials"),
    "feasible": ("boolean", "meets the active constraint (formula or measured) within the tolerance"),
    "reason": ("string", "why infeasible, failed or pruned; which trial a duplicate repeats"),
    "duplicate_of": ("Int64", "the trial whose network (and result) a duplicate reuses"),
    "alpha": ("float64", "depth coefficient α"),
    "beta": ("float64", "width coefficient β"),
    "gamma": ("float64", "resolution coefficient γ (in measured mode: the effective resolution ratio)"),
    "formula_product": ("float64", "α·β²·γ²"),
    "flops_ratio": ("float64", "measured FLOPs of the φ=1 network / the base network's"),
    "width": ("float64", "width multiplier of the φ=1 network (β)"),
    "depth": ("float64", "depth multiplier of the φ=1 network (α)"),
    "resolution": ("Int64", "input resolution of the φ=1 network, pixels"),
    "flops": ("Int64", "measured FLOPs (fvcore; one multiply-add = one FLOP), batch 1"),
    "params": ("Int64", "parameters"),
    "activations": ("Int64", "activations (fvcore definition: conv and linear outputs)"),
    "accuracy": ("float64", "proxy validation top-1 after the last epoch"),
    "loss": ("float64", "proxy validation loss"),
    "train_loss": ("float64", "proxy training loss of the last epoch"),
    "epochs": ("Int64", "proxy epochs completed"),
    "train_seconds": ("float64", "proxy training wall time"),
    "images_per_second": ("float64", "proxy training throughput"),
    "latency_ms": ("float64", "inference latency at batch 1 on the trial's device, ms"),
    "latency_ms_alone": ("float64", "inference latency at batch 1 timed after the search with the networks tied for the win alone on the machine, ms: what --tie-break latency picks by"),
    "latency_ms_batch": ("float64", "inference latency at the training batch size, ms"),
    "peak_memory_bytes": ("Int64", "peak device memory of the training (CUDA), empty on CPU"),
    "device": ("string", "cpu or cuda device name"),
    "counter": ("string", "how FLOPs were counted: arithmetic (fvcore's conventions), or fvcore for a network with a layer the arithmetic does not know"),
    "measure_seconds": ("float64", "time spent building and measuring this candidate (and solving its resolution)"),
    "seed": ("Int64", "proxy training seed (seed k is paired: the same data order and initialisation for every network)"),
    "stage": ("string", "explore (the search) | confirm (further seeds of the top networks and the references)"),
    "sampler": ("string", "grid | tpe | gp | nsga2 | random"),
    "constraint": ("string", "formula | measured"),
    "budget": ("float64", "FLOPs multiplier per φ step"),
    "architecture": ("string", "identity of the built network and resolution (duplicates share it)"),
    "started": ("string", "ISO time the trial started"),
    "finished": ("string", "ISO time the trial finished"),
}


def make_table(records: list[dict]) -> pd.DataFrame:
    """Records (dicts with any subset of COLUMNS) → the table with every column, typed, in order."""
    unknown = {key for record in records for key in record} - set(COLUMNS)
    if unknown:
        raise ValueError(f"not results columns: {', '.join(sorted(unknown))}")
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for name, (dtype, _) in COLUMNS.items():
        frame[name] = frame[name].astype(dtype) if dtype != "Int64" else pd.array(
            [None if _missing(value) else int(value) for value in frame[name]], dtype="Int64"
        )
    return frame.sort_values("trial", kind="stable").reset_index(drop=True)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def save_table(table: pd.DataFrame, run_dir: str | Path) -> None:
    """CSV and Parquet, each whole or not at all (foundation/atomic.py): never a half-written table."""
    run_dir = Path(run_dir)
    for name, write in ((TABLE_CSV, lambda path: table.to_csv(path, index=False)),
                        (TABLE_PARQUET, lambda path: table.to_parquet(path, index=False))):
        with atomic_path(run_dir / name) as temporary:
            write(temporary)


def load_table(run_dir: str | Path) -> pd.DataFrame:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a folder")
    parquet, csv = run_dir / TABLE_PARQUET, run_dir / TABLE_CSV
    if not parquet.exists() and not csv.exists():
        raise InputError(f"{run_dir} is not a scalesearch run (no {TABLE_PARQUET} or {TABLE_CSV})")
    frame, problem = None, None
    # Parquet first (exact types); the CSV, written just before it by save_table, if Parquet is damaged.
    for path, read in ((parquet, pd.read_parquet), (csv, pd.read_csv)):
        if frame is None and path.exists():
            try:
                frame = read(path)
            except Exception as error:  # pyarrow and pandas raise many types for a damaged file
                problem = problem or f"{path.name} is unreadable ({type(error).__name__})"
    if frame is None:
        raise InputError(f"the trials table in {run_dir} is unreadable: {problem}; is the file damaged?")
    missing = REQUIRED_COLUMNS - set(frame.columns)
    if missing:
        raise InputError(f"the trials table in {run_dir} lacks columns: {', '.join(sorted(missing))}")
    try:
        return make_table(frame[[column for column in COLUMNS if column in frame.columns]].to_dict("records"))
    except (TypeError, ValueError) as error:  # e.g. text in a numeric column of a hand-edited CSV
        raise InputError(f"the trials table in {run_dir} holds a value of the wrong type: {error}") from None


def completed(table: pd.DataFrame) -> pd.DataFrame:
    """Trials with a proxy result that meet the constraint: the candidates for the winner."""
    # fillna: a missing status or feasibility is pandas NA, which refuses to become a bool.
    mask = (table["status"] == TrialStatus.COMPLETE).fillna(False) & table["feasible"].fillna(False) & table["accuracy"].notna()
    return table[mask.astype(bool)]
