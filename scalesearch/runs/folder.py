"""A run folder as the report and the export see it: the results table plus run.json's record.

run.json is metadata only (command, space, budget, versions…). An interrupted
or crashed run may have written part of it or none of it, so every field of its
RunRecord may be None here; only the table is required.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import RUN_FILE
from scalesearch.runs.record import RunRecord
from scalesearch.foundation.table import load_table



@dataclass
class Run:
    path: Path
    table: pd.DataFrame
    record: RunRecord = field(default_factory=RunRecord)
    warnings: list[str] = field(default_factory=list)  # what was wrong with run.json, for the reader

    @property
    def name(self) -> str:
        return str(self.record.name or self.path.resolve().name)

    @property
    def tie_break(self) -> str:
        """How the run picks among networks tied with the best (latency unless it said otherwise)."""
        return str(self.record.tie_break or "latency")

    @property
    def looks(self):
        """Where the run's verdict could stop on a finding: once, or with --seeds auto at a few seed counts
        (verdict/sequential.Looks); its comparisons are judged at 98% over all of them."""
        from scalesearch.verdict.sequential import looks

        return looks(int(self.record.seeds or 1), self.record.max_seeds)

    @property
    def budget(self) -> float | None:
        """run.json's budget, else the table's (every trial records the budget it was run under)."""
        if isinstance(self.record.budget, (int, float)):
            return float(self.record.budget)
        budgets = self.table["budget"].dropna()
        return float(budgets.iloc[0]) if len(budgets) else None


def read_run(run_dir: str | Path) -> Run:
    """The table (an InputError when the folder is no run or the table is damaged) and what run.json holds."""
    path = Path(run_dir)
    table = load_table(path)
    warnings: list[str] = []
    record = RunRecord()
    record_path = path / RUN_FILE
    if not record_path.exists():
        warnings.append(f"{RUN_FILE} is missing: the run's settings and provenance are unknown")
    else:
        try:
            loaded = json.loads(record_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            warnings.append(f"{RUN_FILE} is unreadable ({type(error).__name__}); the run's settings are unknown")
        else:
            try:
                record = RunRecord.from_json(loaded)
            except InputError as error:
                warnings.append(f"{error}; ignored")
    return Run(path, table, record, warnings)


def require_space(run: Run) -> str:
    """The full search space the run scaled (a built-in name or ``path.py:NAME``)."""
    space = run.record.space
    if not isinstance(space, str) or not space:
        detail = run.warnings[0] if run.warnings else f"{RUN_FILE} names no space"
        raise InputError(f"cannot tell which search space {run.path} used: {detail}")
    return space
