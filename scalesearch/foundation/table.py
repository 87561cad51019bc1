"""The one results table: its fixed columns (the one definition of a trial's fields), built, saved as CSV and
Parquet, and loaded. Every layer may read it; who won is runs/winner.py's.

Everything downstream (report, export, winner choice) reads only this table
(plus the run's metadata in run.json for provenance).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from scalesearch.foundation.atomic import atomic_path
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.status import TrialStatus
from scalesearch.foundation.run_files import TABLE_CSV, TABLE_PARQUET

# A table written before a column was added still loads (that column empty); these it cannot lack.
REQUIRED_COLUMNS = {"trial", "status", "alpha", "beta", "gamma", "flops", "accuracy"}
STATUSES = tuple(TrialStatus)  # the table's order of statuses (the report's legend and counts)


class Column(NamedTuple):
    dtype: str  # the pandas dtype
    meaning: str
    result: bool = False  # a figure the training returns (an objective's keys): a duplicate copies it from its original


R = True  # marks the columns a training fills
# The order is the table's column order.
COLUMNS: dict[str, Column] = {
    "trial": Column("Int64", "Optuna trial number"),
    "status": Column("string", "complete | infeasible | duplicate | failed | pruned | screened (a lower rung of --fidelity halving) | running"),
    "reference": Column("string", "paper | paper-literal | dWr | depth-only | width-only | resolution-only (foundation/references.py), empty for searched trials"),
    "neighbour_of": Column("string", "depth-only | width-only | resolution-only: the single-dimension explore leader whose compound neighbour this is (the corner check, study/corner.py); empty otherwise"),
    "feasible": Column("boolean", "meets the active constraint (formula or measured) within the tolerance"),
    "reason": Column("string", "why infeasible, failed or pruned; which trial a duplicate repeats"),
    "duplicate_of": Column("Int64", "the trial whose network (and result) a duplicate reuses"),
    "alpha": Column("float64", "depth coefficient α"),
    "beta": Column("float64", "width coefficient β"),
    "gamma": Column("float64", "resolution coefficient γ (in measured mode: the effective resolution ratio)"),
    "formula_product": Column("float64", "α·β²·γ²"),
    "flops_ratio": Column("float64", "measured FLOPs of the φ=1 network / the base network's"),
    "width": Column("float64", "width multiplier of the φ=1 network (β)"),
    "depth": Column("float64", "depth multiplier of the φ=1 network (α)"),
    "resolution": Column("Int64", "input resolution of the φ=1 network, pixels"),
    "flops": Column("Int64", "measured FLOPs (fvcore; one multiply-add = one FLOP), batch 1"),
    "params": Column("Int64", "parameters"),
    "activations": Column("Int64", "activations (fvcore definition: conv and linear outputs)"),
    "accuracy": Column("float64", "proxy validation top-1 after the last epoch", R),
    "loss": Column("float64", "proxy validation loss", R),
    "train_loss": Column("float64", "proxy training loss of the last epoch", R),
    "epochs": Column("Int64", "proxy epochs completed", R),
    "train_seconds": Column("float64", "proxy training wall time", R),
    "images_per_second": Column("float64", "proxy training throughput", R),
    "latency_ms": Column("float64", "inference latency at batch 1 on the trial's device, ms", R),
    "latency_ms_alone": Column("float64", "inference latency at batch 1 timed after the search with the networks tied for the win alone on the machine, ms: what --tie-break latency picks by"),
    "latency_ms_batch": Column("float64", "inference latency at the training batch size, ms", R),
    "peak_memory_bytes": Column("Int64", "peak device memory of the training (CUDA), empty on CPU", R),
    "device": Column("string", "cpu or cuda device name", R),
    "node": Column("string", "the Ray node that trained it: its IP and the first 8 hex digits of its node id", R),
    "counter": Column("string", "how FLOPs were counted: arithmetic (fvcore's conventions), or fvcore for a network with a layer the arithmetic does not know"),
    "measure_seconds": Column("float64", "time spent building and measuring this candidate (and solving its resolution)"),
    "seed": Column("Int64", "proxy training seed (seed k is paired: the same data order and initialisation for every network)"),
    "stage": Column("string", "explore (the search) | confirm (further seeds of the top networks and the references)"),
    "rung": Column("Int64", "--fidelity halving: the rung it trained at (0: the shortest; the last: the proxy's length); empty at full fidelity and for the references"),
    "sampler": Column("string", "grid | tpe | gp | nsga2 | random"),
    "constraint": Column("string", "formula | measured"),
    "budget": Column("float64", "FLOPs multiplier per φ step"),
    "architecture": Column("string", "identity of the built network and resolution (duplicates share it)"),
    "started": Column("string", "ISO time the trial started"),
    "finished": Column("string", "ISO time the trial finished"),
}
# The fields of a trial's result, in the table's order: the one list (the study, the planned stages and the Ray
# runner take theirs from it).
RESULT_FIELDS = tuple(name for name, column in COLUMNS.items() if column.result)
# The result fields that the Ray runner adds to the training's own: where it ran (pipeline/ray_runner.py).
RUNNER_FIELDS = ("node",)


def make_table(records: list[dict]) -> pd.DataFrame:
    """Records (dicts with any subset of COLUMNS) → the table with every column, typed, in order."""
    unknown = {key for record in records for key in record} - set(COLUMNS)
    if unknown:
        raise ValueError(f"not results columns: {', '.join(sorted(unknown))}")
    # Column by column from plain lists: the study rebuilds the table after every event, and typing a whole frame
    # column by column in place cost ~60 ms a call.
    columns = {}
    for name, (dtype, *_) in COLUMNS.items():
        values = [record.get(name) for record in records]
        columns[name] = (pd.array([None if missing(value) else int(value) for value in values], dtype="Int64")
                         if dtype == "Int64" else pd.Series(values, dtype=object).astype(dtype).array)
    frame = pd.DataFrame(columns)
    return frame.sort_values("trial", kind="stable").reset_index(drop=True)


def missing(value) -> bool:
    """None, NaN or pandas' NA: an empty cell."""
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
    lacking = REQUIRED_COLUMNS - set(frame.columns)
    if lacking:
        raise InputError(f"the trials table in {run_dir} lacks columns: {', '.join(sorted(lacking))}")
    try:
        return make_table(frame[[column for column in COLUMNS if column in frame.columns]].to_dict("records"))
    except (TypeError, ValueError) as error:  # e.g. text in a numeric column of a hand-edited CSV
        raise InputError(f"the trials table in {run_dir} holds a value of the wrong type: {error}") from None


def completed(table: pd.DataFrame) -> pd.DataFrame:
    """Trials with a proxy result that meet the constraint: the candidates for the winner."""
    # fillna: a missing status or feasibility is pandas NA, which refuses to become a bool.
    mask = (table["status"] == TrialStatus.COMPLETE).fillna(False) & table["feasible"].fillna(False) & table["accuracy"].notna()
    return table[mask.astype(bool)]
