"""A folder of class subfolders (JPEG/PNG) → uint8 arrays at one resolution: the subset is chosen from the file
list first, and only the images a run uses are decoded, in worker processes, and cached per file.

Layouts: ``FOLDER/CLASS/*.jpg`` (split later, by seed), or ``FOLDER/train/CLASS/*`` plus
``FOLDER/val/CLASS/*`` (used as given). Files with other suffixes and hidden files are ignored.
How the subset is chosen, what the cache keeps and when images stay on disk: docs/data.md, "Image folders".
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from scalesearch.data.folder_cache import (
    UNREADABLE, CacheIndex, DiskImages, ShardWriter, read_rows, remove_stale_temporaries, row_bytes,
)
from scalesearch.data.subsets import balanced_indices, stratified_split
from scalesearch.foundation.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_VERSION = 2  # bump when decoding changes, so old caches are not reused
TRAIN, VAL, UNSPLIT = 0, 1, -1
STORAGES = ("auto", "memory", "disk")
MEMORY_SHARE = 1 / 8  # "auto" keeps a set in memory up to this share of the machine's memory, else on disk
CHUNK_FILES = 32  # files a worker decodes per task
PARALLEL_FROM = 64  # fewer files than this are decoded in this process: starting workers would cost more
OK, BAD, GONE = 0, 1, 2  # what decoding a file found
MOVE_ROWS = 64  # rows moved at once when an array is closed up


@dataclass(frozen=True)
class Listing:
    """The image files of a folder, in one order: split (train, val or unsplit), class name, path."""
    folder: Path
    paths: list[str]  # relative to the folder, with "/"
    labels: np.ndarray  # int64 per file
    splits: np.ndarray  # int8 per file: TRAIN, VAL or UNSPLIT
    class_names: list[str]


@dataclass(frozen=True)
class LoadStats:
    listed: int  # image files in the folder
    tried: int  # of them, looked at by this run (decoded, or known from the cache)
    from_cache: int  # images read from the cache
    decoded: int  # files decoded by this run (readable or not)
    unreadable: int  # of the files tried: could not be read (now or, per the cache, before)
    vanished: int  # of the files tried: listed, then gone when read (the folder changed during the load)
    workers: int  # decoding processes (0: decoded in this process, or nothing to decode)
    storage: str  # "memory" or "disk"


@dataclass
class FolderData:
    train_images: np.ndarray | DiskImages  # K×S×S×3 uint8 (channels last), or rows of the cache on disk
    train_labels: np.ndarray  # int64
    val_images: np.ndarray | DiskImages
    val_labels: np.ndarray
    class_names: list[str]
    train_files: list[str]  # relative paths, in the order of the images
    val_files: list[str]
    stats: LoadStats


def read_image_folder(folder: Path, resolution: int, *, proxy_images: int | None = None,
                      val_images: int | None = None, seed: int = 0, val_fraction: float = 0.2,
                      cache_dir: Path | None = None, storage: str = "auto") -> FolderData:
    """The class-balanced subsets of ``folder`` a run uses, at ``resolution`` px, decoding only what the cache
    lacks. ``proxy_images``/``val_images``: the caps (None: all); ``storage``: "memory", "disk" (the images stay
    in the cache's files and are read a batch at a time) or "auto" (disk when the sets are larger than
    MEMORY_SHARE of the machine's memory)."""
    if storage not in STORAGES:
        raise InputError(f"unknown image storage {storage!r}; use one of {', '.join(STORAGES)}")
    folder = Path(folder)
    listing = scan(folder)
    if proxy_images is not None and proxy_images < len(listing.class_names):
        raise InputError(f"--proxy-images {proxy_images} is fewer than the {len(listing.class_names)} classes of "
                         f"{folder}; use at least one image per class")
    if (listing.splits == UNSPLIT).all():
        train_pool, val_pool = stratified_split(listing.labels, val_fraction, seed)
    else:
        train_pool, val_pool = np.flatnonzero(listing.splits != VAL), np.flatnonzero(listing.splits == VAL)
    directory = cache_folder(folder, resolution, cache_dir)
    loader = _Loader(listing, resolution, directory, storage)
    train, val = loader.load([(train_pool, proxy_images, seed), (val_pool, val_images, seed + 1)])
    stats = loader.stats()
    if len(train[0]) == 0 and len(val[0]) == 0:
        gone = f"; {stats.vanished} of them were gone when read: the folder changed during the load" \
            if stats.vanished else " (all corrupt or truncated)"
        raise InputError(f"none of the {stats.listed} image files in {folder} could be read{gone}")
    if stats.unreadable or stats.vanished:
        warnings.warn(_skipped_message(folder, stats), stacklevel=3)
    if len(train[0]) == 0 or len(val[0]) == 0:
        raise InputError(f"{folder} has too few readable images to hold out a validation set "
                         "(each class needs at least two, or put images in both train/ and val/)")
    return FolderData(train[1], listing.labels[train[0]], val[1], listing.labels[val[0]], listing.class_names,
                      [listing.paths[index] for index in train[0]], [listing.paths[index] for index in val[0]],
                      stats)


def _skipped_message(folder: Path, stats: LoadStats) -> str:
    of = f"{stats.tried:,} image files" + (f" tried (of {stats.listed:,})" if stats.tried < stats.listed else "")
    parts = []
    if stats.unreadable:
        parts.append(f"skipped {stats.unreadable:,} of {of} in {folder} that could not be read (corrupt or truncated)")
    if stats.vanished:
        parts.append(f"{stats.vanished:,} of {of} in {folder} were gone when read (the folder changed during the "
                     "load; the listing is taken once)")
    replaced = "; each was replaced by another image of its class where one was left" \
        if stats.tried < stats.listed else ""
    return "; ".join(parts) + replaced


# ---------------------------------------------------------------- the listing: one pass, no stat of a file

def scan(folder: Path) -> Listing:
    """The image files and sorted class names; InputError when there are not two classes with images.

    One pass over the directories (``os.scandir``: the file type comes with the entry, no stat per file)."""
    if (folder / "train").is_dir() and (folder / "val").is_dir():
        roots = {TRAIN: folder / "train", VAL: folder / "val"}
    else:
        roots = {UNSPLIT: folder}
    found = {split: {name: _image_files(path) for name, path in _class_folders(root)} for split, root in roots.items()}
    class_names = sorted({name for classes in found.values() for name, paths in classes.items() if paths})
    if not class_names:
        raise InputError(f"{folder} has no class subfolders with JPEG or PNG images "
                         f"(expected {folder}/CLASS_NAME/IMAGE.jpg)")
    if len(class_names) == 1:
        raise InputError(f"{folder} has only one class ({class_names[0]}); a classifier needs at least two class subfolders")
    label_of = {name: label for label, name in enumerate(class_names)}
    paths, labels, splits = [], [], []
    for split, classes in found.items():
        prefix = "" if split == UNSPLIT else ("train/" if split == TRAIN else "val/")
        for name, files in sorted(classes.items()):
            paths.extend(f"{prefix}{name}/{file}" for file in files)
            labels.extend([label_of[name]] * len(files))
            splits.extend([split] * len(files))
    return Listing(folder, paths, np.array(labels, dtype=np.int64), np.array(splits, dtype=np.int8), class_names)


def _class_folders(root: Path) -> list[tuple[str, Path]]:
    try:
        with os.scandir(root) as entries:
            return sorted((entry.name, Path(entry.path)) for entry in entries
                          if not entry.name.startswith(".") and entry.is_dir())
    except OSError as error:
        raise InputError(f"cannot list {root}: {error.strerror or error}") from None


def _image_files(class_folder: Path) -> list[str]:
    """Relative paths ("sub/name.jpg") of the visible image files below ``class_folder``, sorted by their parts
    (as sorting the paths does); symbolic links to folders are not followed."""
    found: list[tuple[str, ...]] = []
    pending = [()]
    while pending:
        parts = pending.pop()
        try:
            with os.scandir(class_folder.joinpath(*parts)) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(parts + (entry.name,))
                    elif entry.name.lower().endswith(IMAGE_SUFFIXES) and entry.is_file():
                        found.append(parts + (entry.name,))
        except OSError:
            continue  # a subfolder that vanished or cannot be read holds nothing this run can use
    return ["/".join(parts) for parts in sorted(found)]


# ---------------------------------------------------------------- the cache folder

def default_cache_dir(folder: Path) -> Path:
    """Beside the data when we may write there (the cache travels with it), else the user's cache."""
    if os.access(folder, os.W_OK):
        return folder / ".scalesearch-cache"
    return Path.home() / ".cache" / "scalesearch"


def cache_folder(folder: Path, resolution: int, cache_dir: Path | None = None) -> Path:
    """The folder of this image folder's cache at ``resolution``: inside the data it travels with it; elsewhere it
    is named by the data's absolute path as well."""
    root = Path(cache_dir) if cache_dir else default_cache_dir(folder)
    name = f"{resolution}px-v{CACHE_VERSION}"
    if root.resolve() != (folder / ".scalesearch-cache").resolve():
        name += "-" + hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return root / name


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK)


# ---------------------------------------------------------------- decoding

def decode_image(path: Path, resolution: int) -> np.ndarray:
    """3×S×S uint8: RGB, centre crop of the short side, antialiased resize."""
    return _decode_hwc(path, resolution).transpose(2, 0, 1)


def _decode_hwc(source, resolution: int) -> np.ndarray:
    """S×S×3 uint8 from a path or an open file."""
    with Image.open(source) as image:
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale directly when the image is far larger (much faster).
        image.draft("RGB", (resolution, resolution))
        if image.mode == "P":
            image = image.convert("RGBA")  # palette transparency must go through RGBA before RGB
        # Alpha is dropped, as torchvision's default loader does: the network sees what it would elsewhere.
        image = image.convert("RGB")
        image = ImageOps.fit(image, (resolution, resolution), Image.Resampling.BICUBIC)
        return np.asarray(image)


def _decode_file(path: str, resolution: int) -> tuple[int, int, int, np.ndarray | None]:
    """(OK, BAD or GONE, size, mtime_ns, the S×S×3 image or None) of the file as it was when opened."""
    try:
        handle = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError):
        return GONE, -1, -1, None
    except OSError:
        return BAD, -1, -1, None
    with handle:
        status = os.fstat(handle.fileno())
        try:
            return OK, status.st_size, status.st_mtime_ns, _decode_hwc(handle, resolution)
        except Exception:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError… for bad files
            return BAD, status.st_size, status.st_mtime_ns, None


def _decode_chunk(folder: str, chunk: list[tuple[int, str]], resolution: int):
    """A worker's task: (indices, statuses, sizes, mtimes, the readable images stacked K×S×S×3)."""
    results = [_decode_file(os.path.join(folder, relative), resolution) for _, relative in chunk]
    images = [image for status, _, _, image in results if status == OK]
    stacked = np.stack(images) if images else np.zeros((0, resolution, resolution, 3), np.uint8)
    return ([index for index, _ in chunk], [result[0] for result in results], [result[1] for result in results],
            [result[2] for result in results], stacked)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_context():
    # fork: workers start at once and need not import anything (the parent is not yet running Ray: the folder is
    # loaded before it starts); elsewhere, spawn.
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def decode_files(folder: Path, items: list[tuple[int, str]], resolution: int, on_result, progress=None) -> int:
    """Decodes ``items`` ((index, relative path)) in worker processes; ``on_result(index, status, size, mtime,
    image)`` in this process as they arrive (in no set order). The number of workers (0: decoded here)."""
    if not items:
        return 0
    workers = min(_cpu_count(), -(-len(items) // CHUNK_FILES))
    chunks = [items[start:start + CHUNK_FILES] for start in range(0, len(items), CHUNK_FILES)]
    done = 0
    if len(items) < PARALLEL_FROM or workers <= 1:
        for chunk in chunks:
            done += _deliver(_decode_chunk(str(folder), chunk, resolution), on_result)
            if progress:
                progress.update(done)
        return 0
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context(), initializer=_ignore_interrupts)
    try:
        pending, queue = set(), iter(chunks)
        for chunk in queue:  # two tasks per worker in flight: the results waiting in memory stay few
            pending.add(pool.submit(_decode_chunk, str(folder), chunk, resolution))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done += _deliver(future.result(), on_result)
                next_chunk = next(queue, None)
                if next_chunk is not None:
                    pending.add(pool.submit(_decode_chunk, str(folder), next_chunk, resolution))
            if progress:
                progress.update(done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return workers


def _deliver(result, on_result) -> int:
    indices, statuses, sizes, mtimes, images = result
    readable = iter(images)
    for index, status, size, mtime in zip(indices, statuses, sizes, mtimes):
        on_result(index, status, size, mtime, next(readable) if status == OK else None)
    return len(indices)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Progress:
    """``decoding 12,000 images: 0:40 left`` on stderr: one line rewritten in place on a terminal, else a line
    every 10 s; nothing for a decode that ends within its first second."""

    def __init__(self, total: int, stream=None, delay: float = 1.0, every: float = 10.0):
        self.total, self.stream, self.delay, self.every = total, stream or sys.stderr, delay, every
        self.started = time.monotonic()
        self.last_shown = None
        self.live = getattr(self.stream, "isatty", lambda: False)()

    def update(self, done: int) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < self.delay or done >= self.total:
            return
        if self.last_shown is not None and not self.live and now - self.last_shown < self.every:
            return
        left = elapsed / max(done, 1) * (self.total - done)
        self._write(f"decoding {self.total:,} images: {_clock(left)} left")
        self.last_shown = now

    def close(self) -> None:
        if self.last_shown is not None:
            self._write(f"decoded {self.total:,} images in {_clock(time.monotonic() - self.started)}", end=True)

    def _write(self, text: str, end: bool = False) -> None:
        if self.live:
            self.stream.write("\r" + text + "\033[K" + ("\n" if end else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


# ---------------------------------------------------------------- choosing, reading and decoding the subsets

def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit where lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


class _Loader:
    """Chooses each set from the file list, reads what the cache has, decodes the rest, and repeats the choice
    while decoding finds unreadable files among the chosen (each is replaced by the next of its class in the
    draw). The result depends on the folder and the seed, never on what the cache held."""

    def __init__(self, listing: Listing, resolution: int, directory: Path, storage: str):
        self.listing, self.resolution, self.directory, self.storage = listing, resolution, directory, storage
        count = len(listing.paths)
        self.bad = np.zeros(count, dtype=bool)  # unreadable or gone: never chosen
        self.gone = np.zeros(count, dtype=bool)
        self.tried = np.zeros(count, dtype=bool)
        # Where each file's image is: a cache shard and row (-1: not known), and for the memory path whether it
        # is in this run's arrays.
        self.shard = np.full(count, -1, dtype=np.int32)
        self.row = np.full(count, -1, dtype=np.int64)
        self.placed = np.zeros(count, dtype=bool)
        self.from_cache = self.decoded = self.workers = 0

    def load(self, requests):
        """``requests``: (pool of file indices, cap or None, seed) per set → (chosen indices, images) per set."""
        remove_stale_temporaries(self.directory)
        self.index = CacheIndex(self.directory, self.resolution)
        chosen = [self._choose(*request) for request in requests]
        self.storage = self._decide_storage(sum(len(indices) for indices in chosen))
        writable = self.storage == "disk" or _writable(self.directory)
        self.writer = ShardWriter(self.directory, self.index, self.resolution, enabled=writable,
                                  required=self.storage == "disk")
        arrays, previous = [None] * len(requests), [None] * len(requests)
        try:
            while True:
                if self.storage == "memory":
                    arrays = [self._arrange(array, before, now) for array, before, now in zip(arrays, previous, chosen)]
                previous = chosen
                if not self._fetch(chosen, arrays):
                    break  # every chosen file was readable
                chosen = [self._choose(*request) for request in requests]
        finally:
            self.writer.close()
        if self.storage == "disk":
            return [(indices, DiskImages(self.index.shards, self.shard[indices], self.row[indices], self.resolution))
                    for indices in chosen]
        return list(zip(chosen, arrays))

    def _choose(self, pool: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
        return pool[balanced_indices(self.listing.labels[pool], cap, seed, excluded=self.bad[pool])]

    def _decide_storage(self, images: int) -> str:
        if self.storage != "auto":
            if self.storage == "disk" and not _writable(self.directory):
                raise InputError(f"cannot write the image cache in {self.directory}: the images cannot stay on "
                                 "disk; give a writable cache folder")
            return self.storage
        size = images * row_bytes(self.resolution)
        if size <= MEMORY_SHARE * machine_memory():
            return "memory"
        if _writable(self.directory):
            return "disk"
        warnings.warn(f"the {images:,} images ({size / 1e9:.1f} GB) are held in memory: the image cache in "
                      f"{self.directory} cannot be written, so they cannot be streamed from disk", stacklevel=4)
        return "memory"

    def _arrange(self, array, before, now):
        """The memory path's array for the set ``now``, keeping the images already placed for ``before``."""
        shape = (len(now), self.resolution, self.resolution, 3)
        if array is None:
            return np.empty(shape, dtype=np.uint8)
        if np.array_equal(before, now):
            return array
        keep = np.flatnonzero(np.isin(before, now) & self.placed[before])  # positions in ``array``
        self.placed[before] = False
        if np.isin(now, before).all():
            # Only files dropped (the full-folder path): move the rest down in place, a few rows at a time (each
            # move's temporary is its rows), never a second copy.
            targets = np.searchsorted(now, before[keep])
            for start in range(0, len(keep), MOVE_ROWS):
                array[targets[start:start + MOVE_ROWS]] = array[keep[start:start + MOVE_ROWS]]
            self.placed[before[keep]] = True
            return array[:len(now)]
        fresh = np.empty(shape, dtype=np.uint8)
        targets = np.searchsorted(now, before[keep])
        for start in range(0, len(keep), MOVE_ROWS):
            fresh[targets[start:start + MOVE_ROWS]] = array[keep[start:start + MOVE_ROWS]]
        self.placed[before[keep]] = True
        return fresh

    def _fetch(self, chosen, arrays) -> bool:
        """Puts every chosen image in place (memory: in ``arrays``; disk: its shard and row known); whether any
        chosen file turned out unreadable (then the sets are chosen again)."""
        listing, folder = self.listing, self.listing.folder
        position = np.full(len(listing.paths), -1, dtype=np.int64)
        which = np.full(len(listing.paths), -1, dtype=np.int64)
        for number, indices in enumerate(chosen):
            position[indices] = np.arange(len(indices))
            which[indices] = number
        every = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        placed = self.placed if self.storage == "memory" else self.shard >= 0
        needed = every[~placed[every]]
        found_bad = False
        hits, to_decode = [], []
        for index in needed.tolist():  # one stat per chosen file: the listing itself stats none
            self.tried[index] = True
            try:
                status = os.stat(os.path.join(folder, listing.paths[index]))
            except (FileNotFoundError, NotADirectoryError):
                self.bad[index] = self.gone[index] = found_bad = True
                continue
            except OSError:
                to_decode.append((index, listing.paths[index]))
                continue
            location = self.index.entries.get((listing.paths[index], status.st_size, status.st_mtime_ns))
            if location is None:
                to_decode.append((index, listing.paths[index]))
            elif location == UNREADABLE:
                self.bad[index] = found_bad = True
            else:
                hits.append(index)
                self.shard[index], self.row[index] = location
        self.from_cache += len(hits)
        if hits and self.storage == "memory":
            self._read_hits(np.array(hits, dtype=np.int64), which, position, arrays)

        def on_result(index, status, size, mtime, image):
            nonlocal found_bad
            key = (listing.paths[index], size, mtime)
            if status == OK:
                if self.storage == "memory":
                    arrays[which[index]][position[index]] = image
                    self.placed[index] = True
                location = self.writer.add(key, image)
                if location is not None:
                    self.shard[index], self.row[index] = location
            else:
                self.bad[index] = found_bad = True
                if status == GONE:
                    self.gone[index] = True
                else:
                    self.writer.add_unreadable(key)

        progress = Progress(len(to_decode))
        workers = decode_files(folder, to_decode, self.resolution, on_result, progress)
        progress.close()
        self.decoded += len(to_decode)
        self.workers = max(self.workers, workers)
        return found_bad

    def _read_hits(self, hits, which, position, arrays) -> None:
        files: dict[int, int] = {}
        try:
            for number, array in enumerate(arrays):
                mine = hits[which[hits] == number]
                mine = mine[np.argsort(position[mine])]
                if not len(mine):
                    continue
                # Consecutive positions read into one view of the array, file by file (out must be contiguous).
                targets = position[mine]
                breaks = np.flatnonzero(np.diff(targets) != 1) + 1
                for part in np.split(np.arange(len(mine)), breaks):
                    start = int(targets[part[0]])
                    read_rows(self.index.shards, self.shard[mine[part]], self.row[mine[part]],
                              array[start:start + len(part)], self.resolution, files)
                self.placed[mine] = True
        finally:
            for descriptor in files.values():
                os.close(descriptor)

    def stats(self) -> LoadStats:
        return LoadStats(listed=len(self.listing.paths), tried=int(self.tried.sum()), from_cache=self.from_cache,
                         decoded=self.decoded, unreadable=int((self.bad & ~self.gone).sum()),
                         vanished=int(self.gone.sum()), workers=self.workers, storage=self.storage)
