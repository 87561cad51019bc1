"""Which images a run uses: the class-balanced subset and the stratified hold-out, chosen by seed (numpy only).

An image folder chooses from its file list before anything is decoded (image_folder.py); ``excluded`` marks the
files found unreadable, which are never chosen yet keep their place in the draw, so that the rest is chosen as if
they had never been listed only where that is the same thing (docs/data.md, "Image folders").
"""
from __future__ import annotations

import numpy as np


def balanced_indices(labels: np.ndarray, count: int | None, seed: int,
                     excluded: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of ``count`` images, as equal per class as the data allows, chosen by ``seed``.

    ``excluded`` (bool per image): never chosen; each class's next image in the draw takes its place."""
    labels = np.asarray(labels)
    available = len(labels) if excluded is None else len(labels) - int(np.count_nonzero(excluded))
    if count is None or count >= available:
        return np.arange(len(labels)) if excluded is None else np.flatnonzero(~excluded)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    shuffled = labels[order]
    kept = np.ones(len(labels), dtype=bool) if excluded is None else ~excluded[order]
    # Deal round-robin: every class's 1st image (in shuffled order), then every class's 2nd, …
    rank = _rank_within_class(shuffled, kept)
    class_order = rng.permutation(int(labels.max()) + 1)  # which classes get the remainder
    key = rank * len(class_order) + class_order[shuffled]
    key[~kept] = np.iinfo(np.int64).max
    deal = np.argsort(key, kind="stable")
    return np.sort(order[deal[:count]])


def _rank_within_class(labels: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """For each kept position, how many kept positions of its class come before it (0 for the rest)."""
    positions = np.flatnonzero(kept)
    by_class = positions[np.argsort(labels[positions], kind="stable")]  # class by class, in order within each
    sorted_labels = labels[by_class]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(by_class)]))
    rank = np.zeros(len(labels), dtype=np.int64)
    rank[by_class] = np.arange(len(by_class)) - group_start
    return rank


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices holding out ``val_fraction`` of every class with two or more images."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_class = np.argsort(labels, kind="stable")  # each class's members in index order, classes ascending
    sorted_labels = labels[by_class]
    bounds = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1], True]) if len(labels) else [0]
    val = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        members = rng.permutation(by_class[start:stop])
        if len(members) >= 2:
            val.extend(members[:max(1, round(len(members) * val_fraction))])
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[np.array(val, dtype=np.int64)] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
