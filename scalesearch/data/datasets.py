"""Datasets as uint8 tensors at one source resolution, ready to be moved to a device once.

``load_dataset(name)``: ``synthetic`` (generated, see ``synthetic.py``), ``synthetic:VARIANT`` (a planted
task, see ``planted.py``), a folder of class
subfolders (see ``image_folder.py``), ``cifar10:PATH`` or ``cifar100:PATH`` (see ``cifar.py``).
Images stay at the source resolution; the proxy training resizes each batch to the candidate's.
A folder's images may also stay on disk, in its cache, read a batch at a time (``DiskImages``: docs/data.md).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from scalesearch.data.folder_cache import DiskImages
from scalesearch.data.subsets import balanced_indices, stratified_split
from scalesearch.foundation.errors import InputError

__all__ = ["Dataset", "DiskImages", "load_dataset", "balanced_indices", "stratified_split", "resize_images"]

MIN_SOURCE_RESOLUTION = 16  # below this the 5-stride networks see a 1×1 map: nothing to search
VAL_FRACTION = 0.2  # held out of a folder without train/ and val/ subfolders
SYNTHETIC_TRAIN_IMAGES = 5000  # when no --proxy-images cap: generated, so any size is "the full set"
SYNTHETIC_VAL_IMAGES = 1000
CIFAR_RESOLUTION = 32


@dataclass
class Dataset:
    name: str
    # uint8, N×3×S×S (a folder's: a view of N×S×S×3 memory, channels last), or a folder's images left on disk
    train_images: torch.Tensor | DiskImages
    train_labels: torch.Tensor  # int64, N
    val_images: torch.Tensor | DiskImages
    val_labels: torch.Tensor
    num_classes: int
    class_names: list[str]
    source_resolution: int  # S: the most detail any candidate can see

    def describe(self) -> str:
        on_disk = isinstance(self.train_images, DiskImages) or isinstance(self.val_images, DiskImages)
        return (f"{self.name}: {self.num_classes} classes, {len(self.train_labels)} train / "
                f"{len(self.val_labels)} val images at {self.source_resolution} px"
                + (", read from the image cache on disk" if on_disk else ""))


def load_dataset(
    name: str,
    *,
    proxy_images: int | None = None,
    val_images: int | None = None,
    source_resolution: int = 64,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    storage: str = "auto",
) -> Dataset:
    """``synthetic``, a folder path, ``cifar10:PATH`` or ``cifar100:PATH`` → a Dataset.

    ``proxy_images`` and ``val_images`` cap the training and validation sets with class-balanced
    subsets chosen by ``seed``. ``storage`` (folders only): "memory", "disk" (the images stay in the
    cache's files) or "auto" (disk for sets larger than an eighth of the machine's memory).
    Every unusable input raises InputError with one line.
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
        # Chosen from the file list before anything is decoded: capped already.
        return _folder(Path(text).expanduser(), source_resolution, seed, cache_dir, proxy_images, val_images, storage)
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


def _folder(folder: Path, resolution, seed, cache_dir, proxy_images, val_images, storage) -> Dataset:
    from scalesearch.data.image_folder import read_image_folder

    data = read_image_folder(folder, resolution, proxy_images=proxy_images, val_images=val_images, seed=seed,
                             val_fraction=VAL_FRACTION, cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
                             storage=storage)
    return Dataset(str(folder), _channels_last(data.train_images), torch.from_numpy(data.train_labels),
                   _channels_last(data.val_images), torch.from_numpy(data.val_labels),
                   len(data.class_names), data.class_names, resolution)


def _channels_last(images):
    """N×S×S×3 numpy → the N×3×S×S tensor view of the same memory (no copy: batches.to_storage keeps it so)."""
    if isinstance(images, DiskImages):
        return images
    return torch.from_numpy(images).permute(0, 3, 1, 2)


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
