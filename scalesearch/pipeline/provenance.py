"""Where and with what a run ran, for run.json: the package versions, the machine, the time."""
from __future__ import annotations

import datetime
import os
import platform


def versions() -> dict:
    """Read from the installed packages' metadata: Ray itself is imported by the Ray session and runner only."""
    from importlib.metadata import version

    import torch

    from scalesearch import __version__

    return {"scalesearch": __version__, "torch": torch.__version__, "optuna": version("optuna"),
            "ray": version("ray"), "python": platform.python_version()}


def machine() -> dict:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
