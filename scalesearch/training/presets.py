"""Named bundles of proxy settings: how big a base, how much data, how long to train.

The proxy base network is ``scaling.proxy_base(space, base_width, base_depth, base_resolution)``.
A higher γ must see real extra detail, so a preset stores its images at a ``source_resolution`` no smaller than
its largest φ = 1 candidate's input: on cpu-tiny the resolution-only reference reaches the budget at the source's
64 px (docs/proxy.md); the GPU presets store 1.5 × base_resolution. cpu-tiny was measured (docs/proxy.md); the GPU
presets are scaled up from the first cpu-tiny and not yet measured. How much of a GPU a trial takes is the run's
choice, not the preset's (pipeline/resources.py ``gpus_per_trial``).
"""
from __future__ import annotations

from dataclasses import dataclass

from scalesearch.foundation.errors import InputError


@dataclass(frozen=True)
class Preset:
    name: str
    base_width: float  # multiplier on the space's base network
    base_depth: float
    base_resolution: int  # pixels of the proxy base
    source_resolution: int  # pixels the images are stored at (≥ the largest φ = 1 candidate's input)
    proxy_images: int | None  # class-balanced training subset; None: all
    val_images: int | None  # class-balanced cap on the validation set; None: all
    epochs: int
    batch_size: int
    learning_rate: float  # peak SGD rate for batch_size
    trials: int  # default number of proxy trainings in a search
    description: str


PRESETS = {
    "cpu-tiny": Preset(
        # Depth 0.75 (15 blocks), not 0.34 (one block a stage, where every α in (1, 2] built one network); width
        # and data stay small instead. At 34 px the last stage sees 2×2, not 1×1, and resolution-only reaches 2× at
        # 64 px, before the next 32-px jump: many more distinct networks are on budget at 2×, and each dimension can
        # move alone (the count: docs/proxy.md, bench/bench_proxy_space.py).
        name="cpu-tiny", base_width=0.25, base_depth=0.75, base_resolution=34, source_resolution=64,
        proxy_images=1200, val_images=500, epochs=4, batch_size=64, learning_rate=0.1, trials=10,
        description="B0 at width 0.25, depth 0.75, 34 px; 1,200 images, 4 epochs: a 2×-FLOPs training takes "
                    "one CPU thread 11–25 s, by machine (docs/benchmarks.md §11; why this length: docs/proxy.md)",
    ),
    "gpu-small": Preset(
        name="gpu-small", base_width=0.5, base_depth=0.5, base_resolution=64, source_resolution=96,
        proxy_images=10_000, val_images=2_000, epochs=10, batch_size=256, learning_rate=0.2, trials=24,
        description="B0 at width 0.5, depth 0.5, 64 px; 10,000 images, 10 epochs",
    ),
    "gpu-full": Preset(
        name="gpu-full", base_width=1.0, base_depth=1.0, base_resolution=128, source_resolution=192,
        proxy_images=None, val_images=10_000, epochs=20, batch_size=256, learning_rate=0.2, trials=50,
        description="the full base network at 128 px on all training images, 20 epochs",
    ),
}


def resolve_preset(name: str, device: str) -> Preset:
    """``auto`` → cpu-tiny on a CPU, gpu-small on CUDA; otherwise the preset of that name."""
    if name == "auto":
        return PRESETS["gpu-small" if str(device).startswith("cuda") else "cpu-tiny"]
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose auto, {', '.join(PRESETS)}")
    return PRESETS[name]
