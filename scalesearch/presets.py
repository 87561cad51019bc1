"""Named bundles of proxy settings: how big a base, how much data, how long to train.

The proxy base network is ``scaling.proxy_base(space, base_width, base_depth, base_resolution)``.
Candidates at φ = 1 reach about 1.5 × base_resolution (γ up to 1.5), so every preset stores its
images at ``source_resolution ≥ 1.5 × base_resolution``: a higher γ must see real extra detail.
cpu-tiny was measured (docs/proxy.md); the GPU presets are scaled up from it and not yet measured.
"""
from __future__ import annotations

from dataclasses import dataclass

from scalesearch.errors import InputError


@dataclass(frozen=True)
class Preset:
    name: str
    base_width: float  # multiplier on the space's base network
    base_depth: float
    base_resolution: int  # pixels of the proxy base
    source_resolution: int  # pixels the images are stored at (≥ 1.5 × base_resolution)
    proxy_images: int | None  # class-balanced training subset; None: all
    val_images: int | None  # class-balanced cap on the validation set; None: all
    epochs: int
    batch_size: int
    learning_rate: float  # peak SGD rate for batch_size
    trials: int  # default number of proxy trainings in a search
    description: str
    caveat: str = ""  # what its measured limits are, printed at the start of a run


PRESETS = {
    "cpu-tiny": Preset(
        name="cpu-tiny", base_width=0.25, base_depth=0.34, base_resolution=32, source_resolution=64,
        proxy_images=1200, val_images=500, epochs=4, batch_size=64, learning_rate=0.05, trials=12,
        description="B0 at width 0.25, depth 0.34, 32 px; 1,200 images, 4 epochs: a 2×-FLOPs trial takes "
                    "≈12–26 s on one CPU thread, a default search a few minutes on 2 cores",
        caveat="cpu-tiny is a quick look: at equal FLOPs its candidates differ by about the seed noise and its "
               "ranking did not predict a 4x longer training (docs/benchmarks.md); trust margins over the noise only",
    ),
    "gpu-small": Preset(
        name="gpu-small", base_width=0.5, base_depth=0.5, base_resolution=64, source_resolution=96,
        proxy_images=10_000, val_images=2_000, epochs=10, batch_size=256, learning_rate=0.2, trials=24,
        description="B0 at width 0.5, depth 0.5, 64 px; 10,000 images, 10 epochs on one GPU per trial",
    ),
    "gpu-full": Preset(
        name="gpu-full", base_width=1.0, base_depth=1.0, base_resolution=128, source_resolution=192,
        proxy_images=None, val_images=10_000, epochs=20, batch_size=256, learning_rate=0.2, trials=50,
        description="the full base network at 128 px on all training images, 20 epochs on one GPU per trial",
    ),
}


def resolve_preset(name: str, device: str) -> Preset:
    """``auto`` → cpu-tiny on a CPU, gpu-small on CUDA; otherwise the preset of that name."""
    if name == "auto":
        return PRESETS["gpu-small" if str(device).startswith("cuda") else "cpu-tiny"]
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose auto, {', '.join(PRESETS)}")
    return PRESETS[name]
