"""The embedded synthetic dataset: a flat shape on a striped background; 10 classes = shape × stripe frequency.

Each image is a field of sinusoidal stripes (random orientation, phase, colour and contrast) with
one flat dark or light object on it, a disk or a 3:1 bar of the same area, at a random size (a
quarter to over half the image) and position, plus pixel noise. The class is (shape, frequency):
2 shapes × 5 frequencies.

- The frequencies are fixed in cycles per image width, up to 20: a 32 px input holds at most 16
  (Nyquist), so the antialiased resize blurs the finest classes into each other at low resolution,
  and a higher resolution (γ) really sees more.
- Disk or bar is a property of the whole object, not of any small patch (its edges are locally
  straight or gently curved either way): it needs features spanning the object, which more depth
  (α) and width (β) buy. In a short proxy it is the slow cue (docs/data.md).
- Colours, contrast, size, position, orientation and phase are random nuisances.

Everything is defined in image-relative coordinates, so a larger ``resolution`` samples the same
scene more finely. Generation is vectorised torch, deterministic by seed, no files.
"""
from __future__ import annotations

import math

import torch

SHAPES = ("disk", "bar")
BAR_ASPECT = 3.0  # length : width of the bar, which has the disk's area
FREQUENCIES = (4.0, 6.0, 9.0, 13.5, 20.0)  # stripe cycles per image width; neighbours 1.5× apart
CLASS_NAMES = [f"{shape}-{frequency:g}" for shape in SHAPES for frequency in FREQUENCIES]
FREQUENCY_JITTER = 0.06  # ±6%: classes stay separable (1.5× apart) but no frequency is exact
CONTRAST = (0.25, 0.35)  # stripe amplitude, in units of the full 0–1 intensity range
NOISE_SD = 0.03  # per-pixel Gaussian noise, same units
CHUNK = 256  # images rendered at once: small enough for the allocator to reuse memory (≈1.5× faster than 1024)


def generate(count: int, resolution: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` class-balanced images (uint8, count×3×R×R) and labels (int64), deterministic by seed."""
    return balanced(count, len(CLASS_NAMES), resolution, seed, _render)


def balanced(count: int, classes: int, resolution: int, seed: int, render) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` images of ``classes`` balanced classes in a seeded order, drawn ``CHUNK`` at a time by
    ``render(labels, resolution, generator)`` → uint8 N×3×R×R; shared with the planted tasks (planted.py)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % classes
    labels = labels[torch.randperm(count, generator=generator)]
    images = torch.empty((count, 3, resolution, resolution), dtype=torch.uint8)
    for start in range(0, count, CHUNK):
        images[start:start + CHUNK] = render(labels[start:start + CHUNK], resolution, generator)
    return images, labels


def _render(labels: torch.Tensor, resolution: int, generator: torch.Generator) -> torch.Tensor:
    count = len(labels)

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand((count, *shape), generator=generator)

    # Pixel centres in [-1, 1]; one pixel is 2 / resolution units wide.
    axis = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
    y, x = axis.view(1, -1, 1), axis.view(1, 1, -1)

    shape_index = labels // len(FREQUENCIES)
    frequency = torch.tensor(FREQUENCIES)[labels % len(FREQUENCIES)] * uniform(1 - FREQUENCY_JITTER, 1 + FREQUENCY_JITTER)

    radius = uniform(0.25, 0.6)  # of the disk; the bar has the same area
    limit = 0.95 - radius  # keep most of the object inside the frame
    centre_x, centre_y = uniform(-1, 1) * limit, uniform(-1, 1) * limit
    dx, dy = x - centre_x.view(-1, 1, 1), y - centre_y.view(-1, 1, 1)

    rotation = uniform(0, math.pi).view(-1, 1, 1)
    rotated_x = dx * torch.cos(rotation) + dy * torch.sin(rotation)
    rotated_y = -dx * torch.sin(rotation) + dy * torch.cos(rotation)
    # The bar is a BAR_ASPECT:1 rectangle of the disk's area: 4·a·b = π·r², a = BAR_ASPECT·b.
    half_width = radius.view(-1, 1, 1) * math.sqrt(math.pi / (4 * BAR_ASPECT))
    distance = torch.where(
        (shape_index == 0).view(-1, 1, 1),
        torch.sqrt(dx**2 + dy**2) - radius.view(-1, 1, 1),
        torch.maximum(rotated_x.abs() - BAR_ASPECT * half_width, rotated_y.abs() - half_width),
    )
    # Signed distance → coverage with a one-pixel soft edge: the outline itself is antialiased.
    mask = (0.5 - distance * resolution / 2).clamp(0, 1).unsqueeze(1)

    orientation = uniform(0, math.pi).view(-1, 1, 1)
    along = x * torch.cos(orientation) + y * torch.sin(orientation)  # image width = 2 units
    phase = uniform(0, 2 * math.pi).view(-1, 1, 1)
    # A pure sinusoid has no harmonics, so the only frequency present is the class's own.
    stripes = torch.sin(math.pi * frequency.view(-1, 1, 1) * along + phase).unsqueeze(1)
    background = uniform(0.35, 0.65, 3, 1, 1) + uniform(*CONTRAST, 1, 1, 1) * stripes

    # A flat object, dark or light, so that its outline stands out from the mid-grey stripes.
    dark_object = (torch.rand(count, generator=generator) < 0.5).view(-1, 1, 1, 1)
    object_colour = torch.where(dark_object, uniform(0.0, 0.2, 3, 1, 1), uniform(0.8, 1.0, 3, 1, 1))
    image = background * (1 - mask) + object_colour * mask
    image = image + NOISE_SD * torch.randn(image.shape, generator=generator)
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)
