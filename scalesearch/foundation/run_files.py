"""The files of a run folder, named once, and what makes a folder a run (docs/design.md §2: one owner per rule)."""
from __future__ import annotations

from pathlib import Path

RUN_FILE = "run.json"  # the run's description and provenance (runs/record.py)
CONFIG_FILE = "config.yaml"  # the resolved options, for --config and --resume (pipeline/options.py)
STUDY_FILE = "study.journal"  # the Optuna study: the source of truth of every trial (study/search_study.py)
SAMPLER_FILE = "sampler.pkl"  # the sampler's state, which the journal does not keep
TABLE_CSV = "trials.csv"  # the results table (foundation/table.py)
TABLE_PARQUET = "trials.parquet"
CURVE_FILE = "curve.csv"  # --curve's trainings (study/curve.py)
CHECK_FILE = "check.json"  # scalesearch check's verdict (runs/check_files.py)
CHECK_TABLE = "check.csv"  # scalesearch check's trainings
LEARNING_CURVES_FILE = "learning_curves.csv"  # every training's per-epoch validation accuracy and loss (runs/learning_curves.py)
WINNER_JSON = "winner.json"  # the coefficients and B0–B7 (runs/export.py)
REPORT_HTML = "report.html"
LOCK_FILE = ".lock"  # held while a run or a check writes the folder (pipeline/folder_claim.py)

# Either marks a run: a run killed early may have only its journal.
RUN_MARKERS = (RUN_FILE, STUDY_FILE)


def is_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds a run (or the start of one): the one test of it."""
    return any((Path(folder) / name).exists() for name in RUN_MARKERS)
