"""CIFAR-10 / CIFAR-100 from the official *binary* version files, read with numpy (no pickle, no download).

Record layout (https://www.cs.toronto.edu/~kriz/cifar.html): CIFAR-10 is one label byte then
3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, each 32×32 row-major); CIFAR-100 is a
coarse label byte, a fine label byte, then the same 3,072 pixel bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalesearch.foundation.errors import InputError

PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarFormat:
    name: str
    folder: str  # the folder the official tarball unpacks to
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_bytes: int  # bytes before the pixels
    label_byte: int  # which of them is the label we use
    num_classes: int
    names_file: str


FORMATS = {
    "cifar10": CifarFormat("CIFAR-10", "cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                           ("test_batch.bin",), 1, 0, 10, "batches.meta.txt"),
    # CIFAR-100: the fine label (100 classes), as is standard.
    "cifar100": CifarFormat("CIFAR-100", "cifar-100-binary", ("train.bin",), ("test.bin",), 2, 1, 100,
                            "fine_label_names.txt"),
}
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass
class CifarData:
    train_images: np.ndarray  # N×3×32×32 uint8
    train_labels: np.ndarray  # int64
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]


def read_cifar(kind: str, path: str | Path) -> CifarData:
    """``kind`` is cifar10 or cifar100; ``path`` the folder holding the .bin files, or its parent."""
    layout = FORMATS[kind]
    folder = find_folder(layout, Path(path).expanduser())
    train_images, train_labels = _read_files(layout, [folder / name for name in layout.train_files])
    test_images, test_labels = _read_files(layout, [folder / name for name in layout.test_files])
    return CifarData(train_images, train_labels, test_images, test_labels, _class_names(layout, folder))


def find_folder(layout: CifarFormat, path: Path) -> Path:
    expected = layout.train_files + layout.test_files
    for folder in (path, path / layout.folder):
        if all((folder / name).is_file() for name in expected):
            return folder
    raise InputError(f"{path} does not hold the {layout.name} binary version: expected {', '.join(expected)} "
                     f"there or in {path / layout.folder} (download the 'binary version' from "
                     "https://www.cs.toronto.edu/~kriz/cifar.html)")


def _read_files(layout: CifarFormat, files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    record = layout.label_bytes + PIXELS
    images, labels = [], []
    for file in files:
        raw = np.fromfile(file, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise InputError(f"{file} is not a {layout.name} binary file: its size {raw.size} bytes "
                             f"is not a multiple of the {record}-byte record")
        records = raw.reshape(-1, record)
        file_labels = records[:, layout.label_byte].astype(np.int64)
        if file_labels.max() >= layout.num_classes:
            raise InputError(f"{file} is not a {layout.name} binary file: label {file_labels.max()} "
                             f"is not below {layout.num_classes}")
        images.append(records[:, layout.label_bytes:].reshape(-1, 3, 32, 32))
        labels.append(file_labels)
    return np.concatenate(images), np.concatenate(labels)


def _class_names(layout: CifarFormat, folder: Path) -> list[str]:
    names_file = folder / layout.names_file
    if names_file.is_file():
        names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
        if len(names) == layout.num_classes:
            return names
    if layout.num_classes == 10:
        return list(CIFAR10_NAMES)
    return [f"class_{index}" for index in range(layout.num_classes)]
