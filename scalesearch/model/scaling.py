"""Compound-scaling math: pure functions, no torch.

depth d = α^φ, width w = β^φ, resolution r = γ^φ, with α·β²·γ² ≈ budget so
that each step of φ multiplies FLOPs by about the budget (Tan & Le 2019).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace

from scalesearch.foundation.errors import InputError
from scalesearch.model.spaces import SearchSpace, Stage, Stem

MAX_BUDGET = 16.0  # one φ step; beyond this a "proxy" search makes no sense
FLOPS_CONVENTION = "one fused multiply-add = one FLOP (as in the paper); fvcore, batch 1, eval mode"

# Released EfficientNets (tensorflow/tpu efficientnet_builder.py): hand-adjusted,
# not exactly (1.2, 1.1, 1.15)^φ. name: (width, depth, resolution in pixels, dropout)
OFFICIAL_EFFICIENTNET = {
    "B0": (1.0, 1.0, 224, 0.2),
    "B1": (1.0, 1.1, 240, 0.2),
    "B2": (1.1, 1.2, 260, 0.3),
    "B3": (1.2, 1.4, 300, 0.3),
    "B4": (1.4, 1.8, 380, 0.4),
    "B5": (1.6, 2.2, 456, 0.4),
    "B6": (1.8, 2.6, 528, 0.5),
    "B7": (2.0, 3.1, 600, 0.5),
}
PAPER_COEFFICIENTS = (1.2, 1.1, 1.15)  # α, β, γ for EfficientNet-B0
# Fast compound scaling (dWr; Dollár, Singh and Girshick 2021, pycls's scaling type "d1_w8_g8_r1"): of a FLOPs factor
# s, depth takes 1/10 of log s, width 8/10 and resolution 1/10 (docs/design.md §3).
FAST_COMPOUND_SHARES = (0.1, 0.8, 0.1)


def fast_compound_coefficients(budget: float) -> tuple[float, float, float]:
    """(α, β, γ) of fast compound scaling at ``budget``: α = s^0.1, β = s^0.4, γ = s^0.05, so α·β²·γ² = s."""
    depth, width, resolution = FAST_COMPOUND_SHARES
    return budget**depth, budget ** (width / 2), budget ** (resolution / 2)


class BudgetError(InputError):
    """A budget, coefficient or φ range the user typed is not usable."""


@dataclass(frozen=True)
class ModelSpec:
    """One concrete network: everything needed to build it, as plain data."""

    space: str
    width: float
    depth: float
    resolution: int  # input pixels
    stem: Stem
    stages: tuple[Stage, ...]
    head_channels: int | None
    activation: str
    dropout: float
    drop_connect: float
    bn_eps: float
    bn_momentum: float

    def architecture_key(self) -> tuple:
        """What makes two specs the same network at the same resolution (multipliers aside)."""
        return (self.stem, self.stages, self.head_channels, self.activation, self.resolution)

    def architecture(self) -> str:
        """A short stable name of ``architecture_key``: the table's ``architecture`` column."""
        import hashlib

        return hashlib.sha1(repr(self.architecture_key()).encode()).hexdigest()[:12]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        fields = dict(data)
        fields["stem"] = Stem(**fields["stem"])
        fields["stages"] = tuple(Stage(**stage) for stage in fields["stages"])
        return cls(**fields)


def round_filters(channels: float, width: float, divisor: int = 8) -> int:
    """Official EfficientNet rule: nearest multiple of 8, never below 90% of the target."""
    target = channels * width
    rounded = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * target:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Official rule: ceil, so any depth above 1 adds a block to every stage."""
    # The epsilon keeps 3 × (1.1/1.1·…) float noise from adding a whole block.
    return max(1, int(math.ceil(repeats * depth - 1e-9)))


def round_resolution(pixels: float, multiple: int = 1) -> int:
    """Nearest multiple of ``multiple`` pixels.

    The default, 1 pixel, keeps proxy resolutions (≈32 px) from jumping 25% per
    step; the released B1–B7 (240, 260, 300, 456, 528 px) are not multiples of
    8 or 32 either. Use 8 or 32 for hardware-friendly sizes.
    """
    if multiple < 1:
        raise BudgetError(f"resolution multiple must be at least 1, got {multiple}")
    return max(multiple, int(round(pixels / multiple)) * multiple)


def formula_product(alpha: float, beta: float, gamma: float) -> float:
    """α·β²·γ²: the FLOPs multiplier per φ step before any rounding."""
    return alpha * beta**2 * gamma**2


def parse_budget(text: str | float) -> float:
    """``2x``, ``2``, ``1.5x`` → float; anything not finite and in (1, 16] is an error."""
    raw = str(text).strip()
    match = re.fullmatch(r"([0-9.eE+-]+)\s*[xX]?", raw)
    try:
        value = float(match.group(1)) if match else float("nan")
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise BudgetError(f"budget {raw!r} is not a number; write it like 2x or 1.5")
    if value <= 1.0:
        raise BudgetError(f"budget {raw!r} must be above 1x: it is the FLOPs multiplier of one φ step")
    if value > MAX_BUDGET:
        raise BudgetError(f"budget {raw!r} is above {MAX_BUDGET:g}x; one φ step of compound scaling is usually 2x")
    return value


def check_coefficients(alpha: float, beta: float, gamma: float) -> None:
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not math.isfinite(value) or value < 1.0:
            raise BudgetError(f"{name} must be a finite number ≥ 1 (scaling only grows the network), got {value}")
        if value > 4.0:
            raise BudgetError(f"{name} = {value} is above 4; a φ step that large is not compound scaling")


def scale(
    space: SearchSpace,
    *,  # keywords only: callers think in (α, β) = (depth, width), and a positional call read width first
    width: float = 1.0,
    depth: float = 1.0,
    resolution_ratio: float = 1.0,
    pixels: int | None = None,
    resolution_multiple: int = 1,
    dropout: float | None = None,
) -> ModelSpec:
    """The network of ``space`` with the given multipliers, rounded the official way. ``resolution_ratio`` multiplies
    the space's input size (γ^φ); ``ModelSpec.resolution`` is the rounded result in pixels.

    ``pixels`` overrides ``resolution_ratio`` with an exact input size (the released
    B1–B7 list theirs explicitly).
    """
    if width <= 0 or depth <= 0 or resolution_ratio <= 0:
        raise BudgetError("width, depth and resolution multipliers must be positive")
    stages = tuple(
        replace(stage, channels=round_filters(stage.channels, width), repeats=round_repeats(stage.repeats, depth))
        for stage in space.stages
    )
    if space.head_channels is None:
        head = None
    elif space.scale_head:
        head = round_filters(space.head_channels, width)
    else:
        head = round_filters(space.head_channels, max(1.0, width))
    size = pixels if pixels is not None else round_resolution(space.resolution * resolution_ratio, resolution_multiple)
    return ModelSpec(
        space=space.name,
        width=float(width),
        depth=float(depth),
        resolution=int(size),
        stem=replace(space.stem, channels=round_filters(space.stem.channels, width)),
        stages=stages,
        head_channels=head,
        activation=space.activation,
        dropout=space.dropout if dropout is None else dropout,
        drop_connect=space.drop_connect,
        bn_eps=space.bn_eps,
        bn_momentum=space.bn_momentum,
    )


def official_efficientnets(space: SearchSpace) -> list[tuple[str, ModelSpec]]:
    """The released B0–B7 built on ``space`` (meaningful for efficientnet_b0)."""
    return [
        (name, scale(space, width=width, depth=depth, pixels=pixels, dropout=dropout))
        for name, (width, depth, pixels, dropout) in OFFICIAL_EFFICIENTNET.items()
    ]


def proxy_base(space: SearchSpace, width: float = 1.0, depth: float = 1.0, pixels: int | None = None) -> SearchSpace:
    """A cheaper base (narrower, shallower, smaller input) to search on, scaled like ``space``.

    Coefficients found on it are then applied to the full ``space``; its stage
    table is rounded with the same rules, so the proxy is a real member of the family.
    """
    if (width, depth, pixels) == (1.0, 1.0, None):
        return space
    spec = scale(space, width=width, depth=depth, pixels=pixels or space.resolution)
    return replace(
        space,
        stem=spec.stem,
        stages=spec.stages,
        head_channels=spec.head_channels,
        resolution=spec.resolution,
        description=f"{space.name} at width {width:g}, depth {depth:g}, {spec.resolution} px (proxy base)",
    )
