"""Writes docs/synthetic_samples.png: a grid of synthetic images, one row per class.

    python bench/sample_grid.py [--per-class 6] [--resolution 64] [--scale 2] [--out docs/synthetic_samples.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scalesearch.data import synthetic


def sample_grid(per_class: int, resolution: int, scale: int, seed: int = 0) -> Image.Image:
    images, labels = synthetic.generate(per_class * len(synthetic.CLASS_NAMES) * 3, resolution, seed)
    label_width, gap, cell = 90, 2, resolution * scale
    grid = Image.new("RGB", (label_width + per_class * (cell + gap), len(synthetic.CLASS_NAMES) * (cell + gap)), "white")
    draw = ImageDraw.Draw(grid)
    for row, name in enumerate(synthetic.CLASS_NAMES):
        top = row * (cell + gap)
        draw.text((4, top + cell // 2 - 6), name, fill="black")
        members = (labels == row).nonzero().flatten()[:per_class]
        for column, index in enumerate(members.tolist()):
            pixels = images[index].permute(1, 2, 0).numpy().astype(np.uint8)
            tile = Image.fromarray(pixels).resize((cell, cell), Image.Resampling.NEAREST)  # show the real pixels
            grid.paste(tile, (label_width + column * (cell + gap), top))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--scale", type=int, default=2, help="each pixel drawn as scale × scale")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "synthetic_samples.png"))
    options = parser.parse_args()
    sample_grid(options.per_class, options.resolution, options.scale).save(options.out, optimize=True)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
