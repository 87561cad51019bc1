"""The decoded-image cache of an image folder: one entry per file, in shards written by the runs that decoded them.

A cache folder holds the images of one image folder at one resolution S (image_folder.cache_folder names it).
Each run that decodes files appends them as new shards, never rewriting one:

- ``shard-ID.images``: rows of S×S×3 uint8 (height, width, channel: the layout the training stores), one per file;
- ``shard-ID.json``: the index, written after the rows (so a shard without one is ignored): for each row the file's
  path relative to the folder, its size and modification time (ns), and the files of that run that could not be
  read, with theirs.

An entry serves any later run that lists the same file with the same size and modification time; a touched or
replaced file misses and is decoded again (its old entry is never read again). Two runs writing at once write
separate shards. Deleting the folder is always safe.

``DiskImages``: images that stay in the shards and are read a batch at a time (the streaming path).
"""
from __future__ import annotations

import json
import os
import secrets
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scalesearch.foundation.atomic import atomic_path, write_atomically
from scalesearch.foundation.errors import InputError

INDEX_VERSION = 2
SHARD_BYTES = 64 << 20  # a shard is closed at this size: an interrupted run keeps what it decoded before
UNREADABLE = (-1, -1)  # the location of a file that could not be read


def row_bytes(resolution: int) -> int:
    return resolution * resolution * 3


class CacheIndex:
    """Every valid entry of a cache folder: (relative path, size, mtime_ns) → (shard number, row)."""

    def __init__(self, directory: Path, resolution: int):
        self.directory, self.resolution = Path(directory), resolution
        self.shards: list[str] = []  # absolute paths of the .images files, by shard number
        self.entries: dict[tuple[str, int, int], tuple[int, int]] = {}
        if not self.directory.is_dir():
            return
        for index_path in sorted(self.directory.glob("shard-*.json")):
            self._read(index_path)

    def _read(self, index_path: Path) -> None:
        try:
            document = json.loads(index_path.read_text())
            images = index_path.with_suffix(".images")
            rows = document["rows"]
            if (document.get("version") != INDEX_VERSION or document.get("resolution") != self.resolution
                    or images.stat().st_size != len(rows) * row_bytes(self.resolution)):
                return
        except (OSError, ValueError, KeyError, TypeError):
            return  # a damaged, foreign or half-deleted shard is simply not used
        number = len(self.shards)
        self.shards.append(str(images))
        for row, (path, size, mtime) in enumerate(rows):
            self.entries[(path, size, mtime)] = (number, row)
        for path, size, mtime in document.get("unreadable", []):
            self.entries.setdefault((path, size, mtime), UNREADABLE)

    def add_shard(self, images_path: str) -> int:
        self.shards.append(images_path)
        return len(self.shards) - 1


class ShardWriter:
    """Appends decoded images to new shards of ``directory``; ``close`` (or a full shard) makes them visible.

    ``enabled=False``: writes nothing (an unwritable cache). A failed write warns once and stops writing, unless
    ``required`` (the streaming path reads its images back from the shards): then it is an InputError."""

    def __init__(self, directory: Path, index: CacheIndex, resolution: int, enabled: bool = True,
                 required: bool = False):
        self.directory, self.index, self.resolution = Path(directory), index, resolution
        self.enabled, self.required = enabled, required
        self.capacity = max(16, SHARD_BYTES // row_bytes(resolution))
        self._open: _OpenShard | None = None
        self._unreadable: list[list] = []

    def add(self, key: tuple[str, int, int], image: np.ndarray) -> tuple[int, int] | None:
        """Appends one H×W×3 image; its (shard number, row), or None when nothing is written."""
        if not self.enabled:
            return None
        try:
            if self._open is None:
                self._open = _OpenShard.start(self.directory)
                self._open.number = self.index.add_shard(str(self._open.images))
            shard = self._open
            shard.handle.write(np.ascontiguousarray(image).data)
            shard.rows.append(list(key))
            location = (shard.number, len(shard.rows) - 1)
            if len(shard.rows) >= self.capacity:
                self._close_shard()
            return location
        except OSError as error:
            self._failed(error)
            return None

    def add_unreadable(self, key: tuple[str, int, int]) -> None:
        if self.enabled:
            self._unreadable.append(list(key))

    def close(self) -> None:
        """Puts the open shard and the unreadable files in place; nothing is kept if that fails."""
        if not self.enabled:
            return
        try:
            if self._open is not None or self._unreadable:
                self._close_shard()
        except OSError as error:
            self._failed(error)

    def _close_shard(self) -> None:
        shard, self._open = self._open, None
        if shard is None:
            shard = _OpenShard.start(self.directory)
        shard.finish(self.resolution, self._unreadable)
        self._unreadable = []

    def _failed(self, error: OSError) -> None:
        if self._open is not None:
            self._open.abandon()
            self._open = None
        self.enabled = False
        if self.required:
            raise InputError(f"could not write the image cache in {self.directory}: {error}; the training set is "
                             "streamed from it because it does not fit in memory") from None
        warnings.warn(f"could not write the image cache in {self.directory}: {error}; the images will be decoded "
                      "again next time", stacklevel=4)


@dataclass
class _OpenShard:
    images: Path  # the final name
    temporary: Path
    handle: object
    rows: list = field(default_factory=list)
    number: int = -1

    @classmethod
    def start(cls, directory: Path) -> "_OpenShard":
        directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}"
        images = directory / f"{name}.images"
        temporary = directory / f".{name}.images.tmp"
        return cls(images, temporary, open(temporary, "wb"))

    def finish(self, resolution: int, unreadable: list) -> None:
        self.handle.close()
        os.replace(self.temporary, self.images)
        document = {"version": INDEX_VERSION, "resolution": resolution, "rows": self.rows, "unreadable": unreadable}
        write_atomically(self.images.with_suffix(".json"), json.dumps(document, separators=(",", ":")))

    def abandon(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass
        self.temporary.unlink(missing_ok=True)


def remove_stale_temporaries(directory: Path, older_than_s: float = 6 * 3600) -> None:
    """Hidden half-written shards of runs that were killed (SIGKILL leaves them): gone after six hours."""
    if not directory.is_dir():
        return
    cutoff = time.time() - older_than_s
    for path in directory.glob(".shard-*.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def read_rows(shards: list[str], shard_of: np.ndarray, row_of: np.ndarray, out: np.ndarray,
              resolution: int, files: dict | None = None) -> None:
    """``out[k] = row row_of[k] of shard shard_of[k]`` for every k (out: K×S×S×3 uint8, C-contiguous).

    Runs of consecutive rows of one shard are read in one call. ``files``: open descriptors to reuse
    (shard number → fd); closed here when not given."""
    count = len(shard_of)
    if count == 0:
        return
    size = row_bytes(resolution)
    flat = out.reshape(count, size)
    own = files is None
    files = {} if own else files
    try:
        breaks = np.flatnonzero((np.diff(shard_of) != 0) | (np.diff(row_of) != 1)) + 1
        starts = np.r_[0, breaks]
        stops = np.r_[breaks, count]
        for start, stop in zip(starts.tolist(), stops.tolist()):
            number = int(shard_of[start])
            descriptor = files.get(number)
            if descriptor is None:
                try:
                    descriptor = files[number] = os.open(shards[number], os.O_RDONLY)
                except FileNotFoundError:
                    raise InputError(f"the image cache file {shards[number]} is gone: it was deleted while a run "
                                     "read it; run again") from None
            view = memoryview(flat[start:stop]).cast("B")
            got = os.preadv(descriptor, [view], int(row_of[start]) * size)
            if got != len(view):
                raise InputError(f"the image cache file {shards[number]} is shorter than its index says: it was "
                                 "changed while a run read it; delete it and run again")
    finally:
        if own:
            for descriptor in files.values():
                os.close(descriptor)


class DiskImages:
    """N images at S px that stay in the cache's shard files; ``read(index)`` reads those rows (channels last).

    Behaves as far as the training needs like the N×3×S×S uint8 tensor it stands for (``shape``, ``len``). It
    pickles as its file names and row numbers (a Ray trial on the same machine, or on a shared filesystem, reads
    the same files)."""

    dtype = "uint8"

    def __init__(self, shards: list[str], shard_of: np.ndarray, row_of: np.ndarray, resolution: int):
        self.shards = list(shards)
        self.shard_of = np.asarray(shard_of, dtype=np.int32)
        self.row_of = np.asarray(row_of, dtype=np.int64)
        self.resolution = resolution
        self._files: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.row_of)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self), 3, self.resolution, self.resolution)

    @property
    def nbytes(self) -> int:
        return len(self) * row_bytes(self.resolution)

    def read(self, index, out: np.ndarray | None = None) -> np.ndarray:
        """The images at ``index`` (positions 0…N−1) as K×S×S×3 uint8, into ``out`` when given."""
        index = np.asarray(index, dtype=np.int64)
        if out is None:
            out = np.empty((len(index), self.resolution, self.resolution, 3), dtype=np.uint8)
        read_rows(self.shards, self.shard_of[index], self.row_of[index], out, self.resolution, self._files)
        return out

    def read_range(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        return self.read(np.arange(start, stop), out)

    def close(self) -> None:
        files, self._files = self._files, {}
        for descriptor in files.values():
            os.close(descriptor)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_files"] = {}
        return state
