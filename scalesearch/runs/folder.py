"""A run folder as the report and the export see it: the results table plus run.json.

run.json is metadata only (command, space, budget, versions…). An interrupted
or crashed run may have written part of it or none of it, so every key is
optional here; only the table is required.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scalesearch.errors import InputError
from scalesearch.runs.table import load_table

RUN_JSON = "run.json"
RUN_FORMAT = "scalesearch.run"


@dataclass
class Run:
    path: Path
    table: pd.DataFrame
    meta: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what was wrong with run.json, for the reader

    def get(self, key: str, default=None):
        value = self.meta.get(key)
        return default if value is None else value

    @property
    def name(self) -> str:
        return str(self.get("name", self.path.resolve().name))

    @property
    def tie_break(self) -> str:
        """How the run picks among networks tied within the noise (latency unless it said otherwise)."""
        return str(self.get("tie_break", "latency"))

    @property
    def budget(self) -> float | None:
        """run.json's budget, else the table's (every trial records the budget it was run under)."""
        if isinstance(self.meta.get("budget"), (int, float)):
            return float(self.meta["budget"])
        budgets = self.table["budget"].dropna()
        return float(budgets.iloc[0]) if len(budgets) else None


def read_run(run_dir: str | Path) -> Run:
    """The table (an InputError when the folder is no run or the table is damaged) and what run.json holds."""
    path = Path(run_dir)
    table = load_table(path)
    warnings: list[str] = []
    meta: dict = {}
    meta_path = path / RUN_JSON
    if not meta_path.exists():
        warnings.append(f"{RUN_JSON} is missing: the run's settings and provenance are unknown")
    else:
        try:
            loaded = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            warnings.append(f"{RUN_JSON} is unreadable ({type(error).__name__}); the run's settings are unknown")
        else:
            if isinstance(loaded, dict) and loaded.get("format", RUN_FORMAT) == RUN_FORMAT:
                meta = loaded
            else:
                warnings.append(f"{RUN_JSON} is not a scalesearch run description; ignored")
    return Run(path, table, meta, warnings)


def require_space(run: Run) -> str:
    """The full search space the run scaled (a built-in name or ``path.py:NAME``)."""
    space = run.meta.get("space")
    if not isinstance(space, str) or not space:
        detail = run.warnings[0] if run.warnings else f"{RUN_JSON} names no space"
        raise InputError(f"cannot tell which search space {run.path} used: {detail}")
    return space
