"""The run's Optuna journal (study.journal): Optuna's own file format, written without an fsync per record.

Optuna's JournalFileBackend takes a file lock and fsyncs every record, and a proposal writes about twenty of them
(one per table column): on a busy disk that was most of the time the search spent between two trainings
(docs/benchmarks.md §4). Here a record is one ``write`` to the end of the file, which a killed process cannot undo
(the kernel holds it); the file is fsynced once per recorded training (``sync_journal``), so what a power cut can
take is at most proposals made since the last result, which a resume proposes again. No file lock: the run folder's
lock (pipeline/folder_claim.py) already keeps every other process from writing this journal, and Ray's workers
never write it. Reading is Optuna's.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from optuna.storages.journal import JournalFileBackend

log = logging.getLogger("scalesearch.study.journal")


class RunJournal(JournalFileBackend):
    def __init__(self, path: str | Path):
        super().__init__(str(path))
        self.path = Path(path)

    def append_logs(self, logs: list[dict]) -> None:
        text = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in logs)
        with open(self.path, "ab") as handle:
            handle.write(text.encode("utf-8"))


def sync_journal(path: str | Path) -> None:
    """Make the records written so far survive a power cut (a finished training's result must)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def repair_journal(path: Path) -> None:
    """Undo what a run stopped in the middle of a journal write leaves behind. Called on resume only, with the
    run folder claimed (folder_claim's lock), so no other process can be writing this journal.

    - Optuna's own lock (``study.journal.lock``, a symlink) of a run killed while it appended: stale. Optuna
      would wait 30 s for it, then warn and break it.
    - A last line cut short (the disk filled, the power went): a write that never completed, so nothing was
      told of it. Optuna skips it when reading, but appends after it, and that makes the journal unreadable."""
    lock = path.with_name(path.name + ".lock")
    if lock.is_symlink() or lock.exists():
        lock.unlink()
        log.info("removed %s, left by a run stopped while it wrote its journal", lock)
    if not path.exists():
        return
    with open(path, "rb+") as handle:
        size = position = handle.seek(0, 2)
        keep = 0
        while position > 0:
            step = min(1 << 16, position)
            handle.seek(position - step)
            newline = handle.read(step).rfind(b"\n")
            if newline >= 0:
                keep = position - step + newline + 1
                break
            position -= step
        if keep < size:
            handle.truncate(keep)
            log.info("cut %d bytes of an unfinished last record from %s", size - keep, path)


