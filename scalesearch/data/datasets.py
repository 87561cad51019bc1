"""Datasets as uint8 tensors at one source resolution, ready to be moved to a device once.

``load_dataset(name)``: ``synthetic`` (generated, see ``synthetic.py``), ``synthetic:VARIANT`` (a planted
task, see ``planted.py``), a folder of class
subfolders (see ``image_folder.py``), ``cifar10:PATH`` or ``cifar100:PATH`` (see ``cifar.py``).
Images stay at the source resolution; the proxy training resizes each batch to the candidate's.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scalesearch.foundation.errors import InputError

MIN_SOURCE_RESOLUTION = 16  # below this the 5-stride networks see a 1×1 map: nothing to search
VAL_FRACTION = 0.2  # held out of a folder without train/ and val/ subfolders
SYNTHETIC_TRAIN_IMAGES = 5000  # when no --proxy-images cap: generated, so any size is "the full set"
SYNTHETIC_VAL_IMAGES = 1000
CIFAR_RESOLUTION = 32


@dataclass
class Dataset:
    name: str
    train_images: torch.Tensor  # uint8, N×3×S×S
    train_labels: torch.Tensor  # int64, N
    val_images: torch.Tensor
    val_labels: torch.Tensor
    num_classes: int
    class_names: list[str]
    source_resolution: int  # S: the most detail any candidate can see

    def describe(self) -> str:
        return (f"{self.name}: {self.num_classes} classes, {len(self.train_labels)} train / "
                f"{len(self.val_labels)} val images at {self.source_resolution} px")


def load_dataset(
    name: str,
    *,
    proxy_images: int | None = None,
    val_images: int | None = None,
    source_resolution: int = 64,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> Dataset:
    """``synthetic``, a folder path, ``cifar10:PATH`` or ``cifar100:PATH`` → a Dataset.

    ``proxy_images`` and ``val_images`` cap the training and validation sets with class-balanced
    subsets chosen by ``seed``. Every unusable input raises InputError with one line.
    """
    _check_sizes(proxy_images, val_images, source_resolution)
    text = str(name).strip()
    kind, _, path = text.partition(":")
    if text == "synthetic":
        dataset = _synthetic(proxy_images, val_images, source_resolution, seed)
    elif kind == "synthetic":
        dataset = _planted(path, proxy_images, val_images, source_resolution, seed)
    elif kind in ("cifar10", "cifar100") and path:
        dataset = _cifar(kind, path, source_resolution, text)
    elif Path(text).expanduser().is_dir():
        dataset = _folder(Path(text).expanduser(), source_resolution, seed, cache_dir)
    elif Path(text).expanduser().exists():
        raise InputError(f"{text} is a file; --data takes a folder of class subfolders (FOLDER/CLASS_NAME/IMAGE.jpg)")
    elif "/" in text or text.startswith(("~", ".")):  # meant as a path: say so, not "unknown dataset"
        raise InputError(f"no folder {text}; --data takes a folder of class subfolders (FOLDER/CLASS_NAME/IMAGE.jpg)")
    else:
        raise InputError(f"unknown dataset {text!r}: use synthetic, synthetic:VARIANT, a folder of class subfolders, "
                         "cifar10:PATH or cifar100:PATH")
    return _capped(dataset, proxy_images, val_images, seed)


def _check_sizes(proxy_images, val_images, source_resolution) -> None:
    if source_resolution < MIN_SOURCE_RESOLUTION:
        raise InputError(f"source resolution {source_resolution} px is too small; use at least "
                         f"{MIN_SOURCE_RESOLUTION} px (and at least 1.5× the base resolution)")
    for option, value in (("--proxy-images", proxy_images), ("validation images", val_images)):
        if value is not None and value < 2:
            raise InputError(f"{option} must be at least 2, got {value}")


def _synthetic(proxy_images, val_images, resolution, seed) -> Dataset:
    from scalesearch.data import synthetic

    return _generated("synthetic", synthetic.generate, synthetic.CLASS_NAMES, proxy_images, val_images, resolution,
                      seed)


def _planted(variant, proxy_images, val_images, resolution, seed) -> Dataset:
    from scalesearch.data import planted

    if variant not in planted.VARIANTS:
        raise InputError(f"unknown synthetic variant {variant!r}; choose one of {', '.join(planted.VARIANTS)}")
    return _generated(f"synthetic:{variant}", functools.partial(planted.generate, variant),
                      planted.VARIANTS[variant].class_names, proxy_images, val_images, resolution, seed)


def _generated(name, generate, class_names, proxy_images, val_images, resolution, seed) -> Dataset:
    # Generating exactly the capped size is the same as a balanced subset of a larger set, only faster.
    train = generate(proxy_images or SYNTHETIC_TRAIN_IMAGES, resolution, seed=2 * seed)
    val = generate(val_images or SYNTHETIC_VAL_IMAGES, resolution, seed=2 * seed + 1)
    return Dataset(name, *train, *val, len(class_names), list(class_names), resolution)


def _cifar(kind, path, resolution, name) -> Dataset:
    from scalesearch.data.cifar import read_cifar

    data = read_cifar(kind, path)
    # Upsampling is deferred until after the subset is taken (_capped): far less memory.
    return Dataset(name, torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels),
                   torch.from_numpy(data.test_images), torch.from_numpy(data.test_labels),
                   len(data.class_names), data.class_names, max(resolution, CIFAR_RESOLUTION))


def _folder(folder: Path, resolution, seed, cache_dir) -> Dataset:
    from scalesearch.data.image_folder import UNSPLIT, VAL, read_image_folder

    decoded = read_image_folder(folder, resolution, Path(cache_dir).expanduser() if cache_dir else None)
    if (decoded.splits == UNSPLIT).all():
        train_index, val_index = stratified_split(decoded.labels, VAL_FRACTION, seed)
    else:
        train_index, val_index = np.flatnonzero(decoded.splits != VAL), np.flatnonzero(decoded.splits == VAL)
    if len(val_index) == 0 or len(train_index) == 0:
        raise InputError(f"{folder} has too few readable images to hold out a validation set "
                         "(each class needs at least two, or put images in both train/ and val/)")
    images, labels = torch.from_numpy(decoded.images), torch.from_numpy(decoded.labels)
    return Dataset(str(folder), images[train_index], labels[train_index], images[val_index], labels[val_index],
                   len(decoded.class_names), decoded.class_names, resolution)


def _capped(dataset: Dataset, proxy_images, val_images, seed) -> Dataset:
    if proxy_images is not None and proxy_images < dataset.num_classes:
        raise InputError(f"--proxy-images {proxy_images} is fewer than the {dataset.num_classes} classes of "
                         f"{dataset.name}; use at least one image per class")
    train = balanced_indices(dataset.train_labels.numpy(), proxy_images, seed)
    val = balanced_indices(dataset.val_labels.numpy(), val_images, seed + 1)
    resolution = dataset.source_resolution
    return Dataset(
        dataset.name,
        resize_images(dataset.train_images[train], resolution), dataset.train_labels[train],
        resize_images(dataset.val_images[val], resolution), dataset.val_labels[val],
        dataset.num_classes, dataset.class_names, resolution,
    )


def balanced_indices(labels: np.ndarray, count: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``count`` images, as equal per class as the data allows, chosen by ``seed``."""
    if count is None or count >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    shuffled = labels[order]
    # Deal round-robin: every class's 1st image (in shuffled order), then every class's 2nd, …
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(shuffled):
        positions = np.flatnonzero(shuffled == label)
        rank[positions] = np.arange(len(positions))
    class_order = rng.permutation(int(labels.max()) + 1)  # which classes get the remainder
    deal = np.argsort(rank * len(class_order) + class_order[shuffled], kind="stable")
    return np.sort(order[deal[:count]])


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices holding out ``val_fraction`` of every class with two or more images."""
    rng = np.random.default_rng(seed)
    val = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) >= 2:
            val.extend(members[:max(1, round(len(members) * val_fraction))])
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[np.array(val, dtype=np.int64)] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def resize_images(images: torch.Tensor, resolution: int, chunk: int = 1024) -> torch.Tensor:
    """uint8 N×3×s×s → N×3×R×R (only CIFAR needs it: its files are 32 px)."""
    if images.shape[-1] == resolution:
        return images
    resized = torch.empty((len(images), 3, resolution, resolution), dtype=torch.uint8)
    for start in range(0, len(images), chunk):
        batch = images[start:start + chunk].float()
        batch = torch.nn.functional.interpolate(batch, size=(resolution, resolution), mode="bilinear",
                                                antialias=True)
        resized[start:start + chunk] = batch.round().clamp(0, 255).to(torch.uint8)
    return resized
