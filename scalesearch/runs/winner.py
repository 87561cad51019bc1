"""Who won: the verdict's winner (or the Pareto front's knee) as the table row the export and the report show."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.table import completed


def pareto_mask(accuracy: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True where no other point has accuracy ≥ and cost ≤ with one strictly better."""
    accuracy, cost = np.asarray(accuracy, float), np.asarray(cost, float)
    better_or_equal = (accuracy[None, :] >= accuracy[:, None]) & (cost[None, :] <= cost[:, None])
    strictly = (accuracy[None, :] > accuracy[:, None]) | (cost[None, :] < cost[:, None])
    return ~(better_or_equal & strictly).any(axis=1)


def pick_winner(table: pd.DataFrame, pick: str = "best", tie_break: str = "latency") -> pd.Series | None:
    """The winning network as its first completed row, ``accuracy`` replaced by its mean over seeds (``seeds``: n).

    ``best``: the verdict's winner (verdict/verdict.py owns that choice: the best mean, and among networks tied
    with it (verdict.TIE_MARGIN) the tie-break's pick by ``tie_break``). ``knee``: the knee of the Pareto front of the networks'
    mean accuracy against FLOPs (both normalised; the point farthest from the line through the front's ends)."""
    from scalesearch.verdict.verdict import decide, per_network_table

    if pick not in ("best", "knee"):
        raise InputError(f"unknown --pick {pick!r}; use best or knee")
    if completed(table).empty:
        return None
    if pick == "best":
        return _representative(table, decide(table, tie_break).winner.architecture)
    networks = per_network_table(table)
    networks = networks[networks["feasible"]].reset_index(drop=True)
    front = networks[pareto_mask(networks["mean"].to_numpy(), networks["flops"].to_numpy())].sort_values("flops")
    if len(front) <= 2:
        chosen = front.sort_values(["mean", "flops"], ascending=[False, True]).iloc[0]
    else:
        cost, accuracy = front["flops"].to_numpy(float), front["mean"].to_numpy(float)
        x = (cost - cost.min()) / (np.ptp(cost) or 1.0)
        y = (accuracy - accuracy.min()) / (np.ptp(accuracy) or 1.0)
        # Distance to the chord from the cheapest to the most expensive point of the front.
        distance = np.abs((x[-1] - x[0]) * (y[0] - y) - (x[0] - x) * (y[-1] - y[0]))
        chosen = front.iloc[int(np.argmax(distance))]
    return _representative(table, chosen["architecture"])


def _representative(table: pd.DataFrame, architecture: str) -> pd.Series:
    """The network's first judging row, with its mean and n over the seeds that judge it: the verdict's own
    (verdict.judging_rows), so the winner line and winner.json say the accuracy and n that the verdict says."""
    from scalesearch.verdict.verdict import judging_rows

    rows = judging_rows(completed(table))
    rows = rows[rows["architecture"] == architecture]
    row = rows.iloc[0].copy()
    row["accuracy"] = float(rows["accuracy"].mean())
    row["seeds"] = len(rows)
    return row
