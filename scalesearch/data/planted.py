"""Synthetic tasks with a planted answer (``--data synthetic:NAME``): each is built so that one way of scaling must
pay, by a mechanism stated before it was measured (docs/data.md, "Planted tasks"; results: docs/benchmarks.md).

- ``detail``: the class is a stripe frequency, and four of the ten lie above what the base's input can hold
  (Nyquist: half the input's pixels, in cycles per width). The antialiased resize to the candidate's input removes
  them, so they are told apart only by a larger input: resolution must pay, at any training length.
- ``capacity``: the class is an unordered pair of two gratings out of six frequencies (15 classes), all well below the
  base's Nyquist, at independent random orientations. Telling them apart needs band-energy detectors for six bands
  at every orientation side by side; the base's first stages are 8 channels wide, so a wider network holds more of
  them at once: width must pay.
- ``context``: the class is the vertical order of two coloured marks (which of three colours is above, which below:
  9 classes) placed at least half the image apart, on cluttered stripes. What is where is lost by the global pooling
  unless features that see both marks at once compare them first; a deeper network has more layers whose view spans
  both: depth must pay.
- ``mixed``: all three cues in one image (2 detail frequencies × 3 grating pairs × 2 orders = 12 classes): each
  dimension's cue decides part of the label, so scaling all three should pay most.

Coordinates are image-relative (as in ``synthetic.py``): a larger source resolution samples the same scene more
finely. Deterministic by seed, vectorised torch, no files.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import torch

from scalesearch.data.synthetic import balanced

NOISE_SD = 0.03
BAND_EDGE = 0.15  # a grating fades out over the last 15% below the sampling grid's Nyquist limit

# detail: geometric from 5 to 40 cycles per width, neighbours 26% apart (jitter ±4% keeps them apart).
DETAIL_FREQUENCIES = tuple(round(5.0 * 8.0 ** (index / 9), 2) for index in range(10))
DETAIL_JITTER = 0.04
# capacity: six bands, 40% apart, the highest (14) below a 34 px input's Nyquist (17).
CAPACITY_FREQUENCIES = (2.6, 3.6, 5.1, 7.1, 10.0, 14.0)
CAPACITY_PAIRS = tuple(itertools.combinations(range(len(CAPACITY_FREQUENCIES)), 2))
CAPACITY_JITTER = 0.05
# context: pure colours, easy to see at any resolution; the order is the cue, not the colour.
MARK_COLOURS = ((0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.2, 0.95))
MARK_COLOUR_NAMES = ("red", "green", "blue")
MARK_RADIUS = 0.12  # of the half-width: ≈2 px at 34 px
MIN_SEPARATION = 1.0  # vertical distance of the two marks, in half-widths: at least half the image
# mixed: the detail pair lies above a 34 px input's Nyquist (17) and below a 64 px one's (32).
MIXED_DETAIL = (21.0, 28.0)
MIXED_PAIRS = ((0, 3), (1, 4), (2, 5))


@dataclass(frozen=True)
class Variant:
    class_names: tuple[str, ...]
    render: Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]  # labels, resolution → N×3×R×R in 0–1


def generate(variant: str, count: int, resolution: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` class-balanced images (uint8, count×3×R×R) and labels (int64) of a planted variant."""
    chosen = VARIANTS[variant]

    def render(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
        image = chosen.render(labels, size, generator)
        image = image + NOISE_SD * torch.randn(image.shape, generator=generator)
        return (image.clamp(0, 1) * 255).round().to(torch.uint8)

    return balanced(count, len(chosen.class_names), resolution, seed, render)


class _Draw:
    """Random draws for one chunk of ``count`` images, and the pixel grid in [-1, 1] (one pixel = 2/R)."""

    def __init__(self, count: int, resolution: int, generator: torch.Generator):
        self.count, self.generator = count, generator
        axis = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution * 2 - 1
        self.y, self.x = axis.view(1, -1, 1), axis.view(1, 1, -1)
        self.resolution = resolution

    def uniform(self, low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand((self.count, *shape), generator=self.generator)

    def grating(self, frequency: torch.Tensor) -> torch.Tensor:
        """A sinusoid (N×1×R×R, amplitude ≤ 1) of ``frequency`` cycles per width at a random orientation and phase,
        band-limited as a camera's optics would: sampled at R px, a grating the grid cannot hold must come out grey,
        not as a coarser alias that a smaller input could tell apart."""
        orientation = self.uniform(0, math.pi)
        phase = self.uniform(0, 2 * math.pi).view(-1, 1, 1)
        along = self.x * torch.cos(orientation).view(-1, 1, 1) + self.y * torch.sin(orientation).view(-1, 1, 1)
        # Along the grid's axes the grating has frequency f·|cos θ| and f·|sin θ|; the larger must stay below the
        # Nyquist limit R/2: full amplitude up to 85% of it, fading linearly to 0 at it.
        on_grid = frequency * torch.maximum(torch.cos(orientation).abs(), torch.sin(orientation).abs())
        nyquist = self.resolution / 2
        gain = ((nyquist - on_grid) / (BAND_EDGE * nyquist)).clamp(0, 1)
        wave = torch.sin(math.pi * frequency.view(-1, 1, 1) * along + phase)  # image width = 2 units
        return (gain.view(-1, 1, 1) * wave).unsqueeze(1)

    def tinted(self, pattern: torch.Tensor, contrast: tuple[float, float]) -> torch.Tensor:
        """A pattern in −1…1 on a random mid-grey colour, at a random contrast: colour and contrast are nuisances."""
        return self.uniform(0.35, 0.65, 3, 1, 1) + self.uniform(*contrast, 1, 1, 1) * pattern

    def marks(self, upper: torch.Tensor, lower: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """Two coloured disks, ``upper`` above ``lower`` (colour indices) by at least MIN_SEPARATION, anywhere across."""
        limit = 0.8 - MARK_RADIUS  # the training's random crop (up to 1/8 of the side) must not cut a mark off
        gap = self.uniform(MIN_SEPARATION, 2 * limit)
        top = -limit + (2 * limit - gap) * torch.rand(self.count, generator=self.generator)
        image = background
        for index, centre_y in ((upper, top), (lower, top + gap)):
            centre_x = self.uniform(-limit, limit)
            distance = torch.sqrt((self.x - centre_x.view(-1, 1, 1)) ** 2 + (self.y - centre_y.view(-1, 1, 1)) ** 2)
            mask = (0.5 - (distance - MARK_RADIUS) * self.resolution / 2).clamp(0, 1).unsqueeze(1)
            colour = torch.tensor(MARK_COLOURS)[index].view(-1, 3, 1, 1)
            image = image * (1 - mask) + colour * mask
        return image


def _jittered(frequencies, index: torch.Tensor, jitter: float, draw: _Draw) -> torch.Tensor:
    return torch.tensor(frequencies)[index] * draw.uniform(1 - jitter, 1 + jitter)


def _pair_gratings(pairs, index: torch.Tensor, draw: _Draw) -> torch.Tensor:
    """The sum of the two gratings of pair ``index`` (each at its own orientation), in −1…1."""
    chosen = torch.tensor(pairs)[index]
    first = draw.grating(_jittered(CAPACITY_FREQUENCIES, chosen[:, 0], CAPACITY_JITTER, draw))
    second = draw.grating(_jittered(CAPACITY_FREQUENCIES, chosen[:, 1], CAPACITY_JITTER, draw))
    return (first + second) / 2


def _detail(labels: torch.Tensor, resolution: int, generator: torch.Generator) -> torch.Tensor:
    draw = _Draw(len(labels), resolution, generator)
    return draw.tinted(draw.grating(_jittered(DETAIL_FREQUENCIES, labels, DETAIL_JITTER, draw)), (0.25, 0.35))


def _capacity(labels: torch.Tensor, resolution: int, generator: torch.Generator) -> torch.Tensor:
    draw = _Draw(len(labels), resolution, generator)
    return draw.tinted(_pair_gratings(CAPACITY_PAIRS, labels, draw), (0.4, 0.5))


def _context(labels: torch.Tensor, resolution: int, generator: torch.Generator) -> torch.Tensor:
    draw = _Draw(len(labels), resolution, generator)
    clutter = draw.tinted(draw.grating(draw.uniform(3.0, 12.0)), (0.1, 0.2))
    colours = len(MARK_COLOURS)
    return draw.marks(labels // colours, labels % colours, clutter)


def _mixed(labels: torch.Tensor, resolution: int, generator: torch.Generator) -> torch.Tensor:
    draw = _Draw(len(labels), resolution, generator)
    detail, rest = labels % len(MIXED_DETAIL), labels // len(MIXED_DETAIL)
    pair, order = rest % len(MIXED_PAIRS), rest // len(MIXED_PAIRS)
    fine = draw.grating(_jittered(MIXED_DETAIL, detail, DETAIL_JITTER, draw))
    pattern = (2 * _pair_gratings(MIXED_PAIRS, pair, draw) + fine) / 3
    # The order of two marks of fixed colours (red, blue): red above, or blue above.
    upper = torch.where(order == 0, 0, 2)
    return draw.marks(upper, 2 - upper, draw.tinted(pattern, (0.35, 0.45)))


def _pair_name(pair) -> str:
    return "+".join(f"{CAPACITY_FREQUENCIES[index]:g}" for index in pair)


VARIANTS = {  # why each must pay: the module's docstring
    "detail": Variant(tuple(f"{frequency:g}-cycles" for frequency in DETAIL_FREQUENCIES), _detail),
    "capacity": Variant(tuple(f"gratings-{_pair_name(pair)}" for pair in CAPACITY_PAIRS), _capacity),
    "context": Variant(tuple(f"{upper}-above-{lower}" for upper in MARK_COLOUR_NAMES for lower in MARK_COLOUR_NAMES),
                       _context),
    "mixed": Variant(tuple(f"{order}-{_pair_name(pair)}-{frequency:g}" for order in ("red-above", "blue-above")
                           for pair in MIXED_PAIRS for frequency in MIXED_DETAIL), _mixed),
}
