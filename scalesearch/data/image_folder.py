"""A folder of class subfolders (JPEG/PNG) → uint8 arrays at one resolution, decoded once and cached.

Layouts: ``FOLDER/CLASS/*.jpg`` (split later, by seed), or ``FOLDER/train/CLASS/*`` plus
``FOLDER/val/CLASS/*`` (used as given). Files with other suffixes and hidden files are ignored.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.atomic import atomic_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_VERSION = 1  # bump when decoding changes, so old caches are not reused
TRAIN, VAL, UNSPLIT = 0, 1, -1


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: int
    split: int  # TRAIN or VAL from train/ and val/ subfolders, else UNSPLIT


@dataclass
class DecodedFolder:
    images: np.ndarray  # N×3×S×S uint8
    labels: np.ndarray  # N int64
    splits: np.ndarray  # N int8: TRAIN, VAL or UNSPLIT
    class_names: list[str]
    skipped: int  # files Pillow could not read


def read_image_folder(folder: Path, resolution: int, cache_dir: Path | None = None) -> DecodedFolder:
    """Decode every image of ``folder`` at ``resolution`` px, or load the cached result."""
    files, class_names = scan(folder)
    cache_path = (cache_dir or default_cache_dir(folder)) / f"{cache_key(folder, files, class_names, resolution)}.npz"
    decoded = _load_cache(cache_path)
    if decoded is None:
        decoded = _decode_all(files, class_names, resolution)
        _save_cache(cache_path, decoded)
    if len(decoded.labels) == 0:
        raise InputError(f"none of the {len(files)} image files in {folder} could be read (all corrupt or truncated)")
    if decoded.skipped:
        warnings.warn(f"skipped {decoded.skipped} of {len(files)} image files in {folder} that could not be read "
                      "(corrupt or truncated)", stacklevel=3)
    return decoded


def scan(folder: Path) -> tuple[list[ImageFile], list[str]]:
    """The image files and sorted class names; InputError when there are not two classes with images."""
    if (folder / "train").is_dir() and (folder / "val").is_dir():
        roots = {TRAIN: folder / "train", VAL: folder / "val"}
    else:
        roots = {UNSPLIT: folder}
    found = {split: {sub.name: _image_files(sub) for sub in _visible(root.iterdir()) if sub.is_dir()}
             for split, root in roots.items()}
    class_names = sorted({name for classes in found.values() for name, paths in classes.items() if paths})
    if not class_names:
        raise InputError(f"{folder} has no class subfolders with JPEG or PNG images "
                         f"(expected {folder}/CLASS_NAME/IMAGE.jpg)")
    if len(class_names) == 1:
        raise InputError(f"{folder} has only one class ({class_names[0]}); a classifier needs at least two class subfolders")
    files = [ImageFile(path, class_names.index(name), split)
             for split, classes in found.items()
             for name, paths in sorted(classes.items())
             for path in paths]
    return files, class_names


def _visible(paths):
    return sorted(path for path in paths if not path.name.startswith("."))


def _image_files(class_folder: Path) -> list[Path]:
    return [path for path in _visible(class_folder.rglob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(class_folder).parts)]


def default_cache_dir(folder: Path) -> Path:
    """Beside the data when we may write there (the cache travels with it), else the user's cache."""
    if os.access(folder, os.W_OK):
        return folder / ".scalesearch-cache"
    return Path.home() / ".cache" / "scalesearch"


def cache_key(folder: Path, files: list[ImageFile], class_names: list[str], resolution: int) -> str:
    """Changes whenever a file is added, removed, renamed, touched or resized, or the resolution changes."""
    entries = []
    for item in files:
        stat = item.path.stat()
        entries.append([str(item.path.relative_to(folder)), item.label, item.split, stat.st_mtime_ns, stat.st_size])
    text = json.dumps([CACHE_VERSION, str(folder.resolve()), resolution, class_names, entries])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def decode_image(path: Path, resolution: int) -> np.ndarray:
    """3×S×S uint8: RGB, centre crop of the short side, antialiased resize."""
    with Image.open(path) as image:
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale directly when the image is far larger (much faster).
        image.draft("RGB", (resolution, resolution))
        if image.mode == "P":
            image = image.convert("RGBA")  # palette transparency must go through RGBA before RGB
        # Alpha is dropped, as torchvision's default loader does: the network sees what it would elsewhere.
        image = image.convert("RGB")
        image = ImageOps.fit(image, (resolution, resolution), Image.Resampling.BICUBIC)
        return np.asarray(image).transpose(2, 0, 1)


def _decode_or_none(path: Path, resolution: int) -> np.ndarray | None:
    try:
        return decode_image(path, resolution)
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError… for bad files
        return None


def _decode_all(files: list[ImageFile], class_names: list[str], resolution: int) -> DecodedFolder:
    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        arrays = list(pool.map(lambda item: _decode_or_none(item.path, resolution), files))
    kept = [index for index, array in enumerate(arrays) if array is not None]
    images = np.stack([arrays[index] for index in kept]) if kept else np.zeros((0, 3, resolution, resolution), np.uint8)
    return DecodedFolder(
        images=images,
        labels=np.array([files[index].label for index in kept], dtype=np.int64),
        splits=np.array([files[index].split for index in kept], dtype=np.int8),
        class_names=class_names,
        skipped=len(files) - len(kept),
    )


def _load_cache(path: Path) -> DecodedFolder | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return DecodedFolder(archive["images"], archive["labels"], archive["splits"],
                                 [str(name) for name in archive["class_names"]], int(archive["skipped"]))
    except Exception:  # a damaged or foreign cache file is simply rebuilt
        return None


def _save_cache(path: Path, decoded: DecodedFolder) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: a run interrupted mid-write never leaves a half cache behind.
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, images=decoded.images, labels=decoded.labels, splits=decoded.splits,
                     class_names=np.array(decoded.class_names), skipped=np.array(decoded.skipped))
    except OSError as error:
        warnings.warn(f"could not write the image cache {path}: {error}; images will be decoded again next time",
                      stacklevel=3)
