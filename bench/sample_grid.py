"""Writes a grid of synthetic images, one row per class (docs/synthetic_samples.png, docs/planted_NAME.png).

    python bench/sample_grid.py [--data synthetic] [--per-class 6] [--resolution 64] [--scale 2] [--out F]
    python bench/sample_grid.py --data synthetic:detail --resolution 96 --scale 1 --out docs/planted_detail.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scalesearch.data.datasets import load_dataset

DOCS = Path(__file__).resolve().parents[1] / "docs"


def sample_grid(data: str, per_class: int, resolution: int, scale: int, seed: int = 0) -> Image.Image:
    dataset = load_dataset(data, proxy_images=None, val_images=None, source_resolution=resolution, seed=seed)
    images, labels, names = dataset.train_images, dataset.train_labels, dataset.class_names
    label_width, gap, cell = 140, 2, resolution * scale
    grid = Image.new("RGB", (label_width + per_class * (cell + gap), len(names) * (cell + gap)), "white")
    draw = ImageDraw.Draw(grid)
    for row, name in enumerate(names):
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
    parser.add_argument("--data", default="synthetic", help="synthetic or synthetic:VARIANT")
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--scale", type=int, default=2, help="each pixel drawn as scale × scale")
    parser.add_argument("--out", default=str(DOCS / "synthetic_samples.png"))
    options = parser.parse_args()
    sample_grid(options.data, options.per_class, options.resolution, options.scale).save(options.out, optimize=True)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
