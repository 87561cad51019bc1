"""Turning stored uint8 images into model inputs on the device: resize, augment, normalise.

Images are kept as N×H×W×C uint8 ("channels last"): a batch is one ``index_select`` away, and
CPU PyTorch has a fast (AVX2) antialiased resize for exactly that layout in uint8.

Where they are kept (``place``): on the training's device, copied there once (today's path, and always on a CPU
for images in memory), or, for a set larger than the device's share or left on disk by the loader
(data/folder_cache.DiskImages), on the host: ``Streamed`` gathers each batch there and copies it to the device.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import torch
from torch.nn import functional

from scalesearch.data.folder_cache import DiskImages

MEAN = (0.485, 0.456, 0.406)  # fixed ImageNet statistics: no pass over the data, same for every dataset
STD = (0.229, 0.224, 0.225)


def to_storage(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """N×3×S×S uint8 → N×S×S×3 uint8 on ``device``, copied once per training."""
    return images.permute(0, 2, 3, 1).contiguous().to(device, non_blocking=True)


class Streamed:
    """Images kept on the host, in memory or on disk, copied to ``device`` a batch at a time (through pinned
    memory on CUDA, without waiting: the next batch is gathered while the device computes)."""

    def __init__(self, images, device: torch.device):
        self.device = device
        self.pin = device.type == "cuda"
        self.disk = images if isinstance(images, DiskImages) else None
        self.host = None if self.disk is not None else to_storage(images, torch.device("cpu"))
        count, _, size, _ = images.shape
        self.shape = (count, size, size, 3)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape))

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """N×S×S×3 uint8 on the device: the images at ``index`` (a CPU tensor; a device one is moved first)."""
        index = index.cpu()
        out = torch.empty((len(index),) + self.shape[1:], dtype=torch.uint8, pin_memory=self.pin)
        if self.disk is not None:
            self.disk.read(index.numpy(), out=out.numpy())
        else:
            torch.index_select(self.host, 0, index, out=out)
        return out.to(self.device, non_blocking=True)

    def range(self, start: int, stop: int) -> torch.Tensor:
        if self.disk is not None:
            out = torch.empty((stop - start,) + self.shape[1:], dtype=torch.uint8, pin_memory=self.pin)
            self.disk.read_range(start, stop, out=out.numpy())
        else:
            out = self.host[start:stop]
            if self.pin:
                out = out.pin_memory()
        return out.to(self.device, non_blocking=True)


def nbytes(images) -> int:
    """Bytes of a set's uint8 images (a tensor or DiskImages)."""
    return int(np.prod(images.shape))


def place(images, device: torch.device, budget: float | None = None):
    """The images' storage for a training on ``device``: the N×S×S×3 tensor on the device (``to_storage``) when they
    are in memory and fit ``budget`` bytes (None: no limit), else ``Streamed`` from the host."""
    if isinstance(images, DiskImages):
        return Streamed(images, device)
    if device.type != "cpu" and budget is not None and nbytes(images) > budget:
        return Streamed(images, device)
    return to_storage(images, device)


def select(storage, index: torch.Tensor) -> torch.Tensor:
    """The images at ``index`` as an N×3×S×S (channels-last) view."""
    if isinstance(storage, Streamed):
        return storage.gather(index).permute(0, 3, 1, 2)
    return storage.index_select(0, index).permute(0, 3, 1, 2)


def resize(images: torch.Tensor, resolution: int, in_float: bool | None = None) -> torch.Tensor:
    """Antialiased bilinear resize to resolution × resolution: a coarser input really loses detail.

    ``in_float``: the recipe's choice (recipe.Recipe.float_resize); None: as the device needs."""
    # CPU has a fast uint8 kernel; CUDA's antialiased kernel takes floating point only.
    if in_float is None:
        in_float = images.device.type != "cpu"
    source = images.float() if in_float else images
    if source.shape[-1] == resolution:
        return source
    return functional.interpolate(source, size=(resolution, resolution), mode="bilinear", antialias=True)


def random_crop_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pad by 1/8 of the side, crop back at a random offset, flip half: per image, on the device."""
    count, size = images.shape[0], images.shape[-1]
    padding = max(1, size // 8)
    padded = functional.pad(images, (padding, padding, padding, padding))
    # Every possible crop as a view (no copy); indexing it copies exactly one window per image.
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # N×C×(2p+1)×(2p+1)×S×S
    offsets = torch.randint(0, 2 * padding + 1, (2, count), device=images.device, generator=generator)
    cropped = windows[torch.arange(count, device=images.device), :, offsets[0], offsets[1]]
    flip = torch.rand(count, device=images.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), cropped.flip(3), cropped)


def normalise(images: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """uint8 or float in 0–255 → float32, standardised with MEAN/STD, in the model's memory format."""
    mean, scale = _normalisation(images.device)
    return images.to(dtype=torch.float32, memory_format=memory_format).sub_(mean).mul_(scale)


@functools.cache
def _normalisation(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # Made once per device: a fresh host→GPU copy every batch would stall the GPU queue.
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    return mean, 1 / (torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255)


def train_batch(storage, index, resolution, generator, augment: bool, recipe) -> torch.Tensor:
    """Resize first, then crop and flip: they commute with resizing, and are 4× cheaper at half the side.
    ``recipe``: a recipe.Recipe (float or uint8 resize, the model's memory format)."""
    images = resize(select(storage, index), resolution, recipe.float_resize)
    if augment:
        images = random_crop_flip(images, generator)
    return normalise(images, recipe.memory_format)


def eval_batch(storage, start: int, stop: int, resolution, recipe) -> torch.Tensor:
    """Validation: resize only."""
    images = storage.range(start, stop) if isinstance(storage, Streamed) else storage[start:stop]
    images = resize(images.permute(0, 3, 1, 2), resolution, recipe.float_resize)
    return normalise(images, recipe.memory_format)


def warn_if_upsampling(resolution: int, source_resolution: int) -> None:
    if resolution > source_resolution:
        warnings.warn(f"the candidate's {resolution} px input is upsampled from the dataset's {source_resolution} px: "
                      "it sees no more detail than at the source resolution; raise the source resolution",
                      stacklevel=3)
