"""report.html from a run folder alone (no Ray, no Optuna)."""
from scalesearch.report.write import write_report

__all__ = ["write_report"]
