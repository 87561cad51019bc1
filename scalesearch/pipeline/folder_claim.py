"""Taking a run folder for one run, so that nothing a user ran is lost.

- A lock (``R/.lock``, held with ``flock`` for the life of the process) refuses a second
  ``scalesearch run`` on the same folder and says who holds it. The kernel drops the lock
  when its process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
- ``--force`` does not delete the old run: its files are moved aside into ``R/.replaced-<time>/``
  (a rename, on the same filesystem) and deleted only once the new run is under way
  (``commit``). If the new run stops before that, ``abandon`` puts the old run back.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import socket
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.run_files import LOCK_FILE, RUN_MARKERS, is_run

ASIDE_PREFIX = ".replaced-"


class FolderClaim:
    """A locked run folder; ``aside`` holds a replaced run until ``commit``."""

    def __init__(self, folder: Path, lock, aside: Path | None):
        self.folder, self._lock, self.aside = folder, lock, aside

    def commit(self) -> None:
        """The new run is under way: the run it replaces may go."""
        if self.aside is not None:
            shutil.rmtree(self.aside, ignore_errors=True)
            self.aside = None

    def abandon(self) -> None:
        """The new run stopped before it was under way: put the replaced run back."""
        if self.aside is None:
            return
        for entry in self.folder.iterdir():
            if entry.name != LOCK_FILE and entry != self.aside:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        for entry in self.aside.iterdir():
            entry.rename(self.folder / entry.name)
        self.aside.rmdir()
        self.aside = None

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None


def claim_folder(folder: Path, *, resume: bool, force: bool, command: str | None = None) -> FolderClaim:
    """Lock ``folder`` for a run, refusing to mix two runs in one place or to lose a finished one.

    The folder is judged under its lock, so no other run can change it between the judgement and the claim; when
    it is refused, the lock file and any folder made only to be judged are removed again."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # the folder first, then its parents
    had_lock = (folder / LOCK_FILE).exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = _lock(folder, command)
    except OSError as error:
        raise InputError(f"cannot write to {folder}: {error.strerror or error}") from None
    try:
        occupied = _judge(folder, resume=resume, force=force)
    except InputError:
        if not had_lock:  # refused: the folder is left as it was found (_lock sees a lock file replaced meanwhile)
            (folder / LOCK_FILE).unlink(missing_ok=True)
        lock.close()
        for path in created:
            with contextlib.suppress(OSError):  # another run may have put something there since: the refusal stands
                path.rmdir()
        raise
    aside = None
    if occupied and not resume:
        aside = folder / f"{ASIDE_PREFIX}{datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
        aside.mkdir()
        for entry in list(folder.iterdir()):
            if entry.name != LOCK_FILE and entry != aside:
                entry.rename(aside / entry.name)
    return FolderClaim(folder, lock, aside)


def _judge(folder: Path, *, resume: bool, force: bool) -> bool:
    """Whether ``folder`` holds anything besides its lock; raises where the run may not take it."""
    has_run = is_run(folder)
    if resume and not has_run:
        raise InputError(f"cannot resume: {folder} holds no scalesearch run (neither {' nor '.join(RUN_MARKERS)})")
    occupied = any(entry.name != LOCK_FILE for entry in folder.iterdir())
    if occupied and not resume:
        if not has_run:
            raise InputError(f"{folder} is not empty and holds no scalesearch run; choose another --out")
        if not force:
            raise InputError(f"{folder} already holds a run; use --resume to continue it or --force to replace it")
    return occupied


def _lock(folder: Path, command: str | None):
    while True:
        handle = open(folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            error = _in_use(folder, handle.read())
            handle.close()
            raise error from None
        if _same_file(handle, folder / LOCK_FILE):
            break
        handle.close()  # locked a lock file that a refused claim removed meanwhile: take the one there now
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                             "since": datetime.datetime.now().isoformat(timespec="seconds")}))
    handle.flush()
    return handle


def _same_file(handle, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def refuse_if_in_use(folder: Path) -> None:
    """Say that a live run holds ``folder`` before anything else is checked, without touching the folder: a
    moment's shared-lock probe, released as the file closes (claim_folder takes the lock itself later)."""
    try:
        with open(folder / LOCK_FILE) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _in_use(folder, handle.read()) from None
    except OSError:  # no lock file (or no folder): nobody holds it
        pass


def lock_command(folder: Path) -> str | None:
    """The command of the run whose lock file is in ``folder`` (None when there is none, or it says none)."""
    try:
        info = json.loads((Path(folder) / LOCK_FILE).read_text())
        return info.get("command") if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


def _in_use(folder: Path, text: str) -> InputError:
    try:
        info = json.loads(text)
        holder = f"pid {info['pid']} on {info['host']} since {info['since']}: {info.get('command') or 'scalesearch'}"
    except (ValueError, KeyError, TypeError):
        holder = "holder unknown"
    return InputError(f"{folder} is in use by another scalesearch run ({holder}); "
                      "wait for it to finish or choose another --out")
