"""A full disk (or quota), said in one line with what to do once space is freed: the one place that says it."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import is_run


def raise_if_disk_full(error: BaseException, folder: Path, then: Callable[[], str]) -> None:
    """Raises the one-line InputError when ``error``, or what it came from, is a full disk; ``then()``: what to run
    once space is freed. Returns otherwise (the caller raises ``error`` itself)."""
    words = _disk_full(error)
    if words is not None:
        raise InputError(f"the disk holding {folder} is full ({words}); free space, then {then()}") from None


def _disk_full(error: BaseException | None) -> str | None:
    """The system's words when ``error``, or what it came from, is a full disk or quota; None otherwise."""
    for _ in range(8):
        if error is None:
            return None
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error.strerror or os.strerror(error.errno)
        error = error.__cause__ or error.__context__
    return None


def resume_it(folder: Path) -> str:
    """Once the run is under way: every write is whole or absent (temporary file, then rename; the journal's cut
    record is dropped on resume), so what finished is kept and a resume goes on from it."""
    return f"scalesearch run --resume {folder}"


def start_it_again(folder: Path, *, resume: bool, replacing: bool) -> str:
    """Before the run was under way (its folder given back as it was): what runs it from the start."""
    if resume:
        return resume_it(folder)
    if not replacing and is_run(folder):
        return "run the same command again with --force"  # its first files are there, its config is not
    return "run the same command again"
