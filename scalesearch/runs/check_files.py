"""check.json, the fidelity check's verdict, written and read (its trainings are check.csv: study/planned.py)."""
from __future__ import annotations

from pathlib import Path

from scalesearch.foundation.atomic import write_atomically
from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import CHECK_FILE
from scalesearch.verdict.fidelity import Fidelity


def write_fidelity(run_dir: str | Path, fidelity: Fidelity) -> Path:
    return write_atomically(Path(run_dir) / CHECK_FILE, fidelity.to_json())


def read_fidelity(run_dir: str | Path) -> Fidelity | None:
    """The run's check, or None when it never ran; a damaged file is one line."""
    path = Path(run_dir) / CHECK_FILE
    if not path.exists():
        return None
    try:
        return Fidelity.from_json(path.read_text())
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(f"{path} is damaged ({type(error).__name__}); run scalesearch check again to rewrite it") from None
