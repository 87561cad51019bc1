"""Synthetic datasets generated once and shared by benchmark processes through files.

Generating 10,000 synthetic images at 96 px takes a minute of a small CPU; bench/gpu_check.sh runs several
benchmarks (and bench_sharing.py several processes) on the same data. With ``SCALESEARCH_BENCH_DATA`` set to a
folder, a dataset is generated once and loaded from there afterwards; without it, each call generates.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from scalesearch.data.datasets import Dataset, load_dataset

FOLDER = "SCALESEARCH_BENCH_DATA"


def synthetic(proxy_images: int | None, val_images: int | None, source_resolution: int, seed: int = 0) -> Dataset:
    folder = os.environ.get(FOLDER)
    if not folder:
        return load_dataset("synthetic", proxy_images=proxy_images, val_images=val_images,
                            source_resolution=source_resolution, seed=seed)
    path = Path(folder, f"synthetic-{proxy_images}-{val_images}-{source_resolution}px-seed{seed}.pt")
    if path.exists():
        return torch.load(path, weights_only=False)
    dataset = load_dataset("synthetic", proxy_images=proxy_images, val_images=val_images,
                           source_resolution=source_resolution, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        torch.save(dataset, handle)
    os.replace(handle.name, path)  # whole or not at all: another process may be about to read it
    return dataset
