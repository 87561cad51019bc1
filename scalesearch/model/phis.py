"""Which φ a family takes: ``--phi`` lists and ranges (negative and fractional φ: B-1, B0.5), the family at those φ
(``extrapolate``), and the floors below B0 where a network stops being the base scaled by α^φ, β^φ, γ^φ
(docs/design.md §3, "Below B0 and between the B-numbers")."""
from __future__ import annotations

import math
import re

from scalesearch.model.scaling import BudgetError, ModelSpec, check_coefficients, scale
from scalesearch.model.spaces import SearchSpace

PHI_LIMIT = 12  # |φ| beyond 12 is 2^12 times the FLOPs of B0 (or 1/4096): no longer one family
PHI_DECIMALS = 3  # a fractional φ is written with at most 3 decimals, so its name (B0.125) is exact
_NUMBER = r"[+-]?\d+(?:\.\d+)?"
_PHI_SYNTAX = "write it like 1-7, -2..7, 0.5 or -1,0.5,1.5"


def _tidy_phi(value: float) -> int | float:
    """φ as it is named and stored: an int when whole (B1, "phi": 1, as before), else rounded to its decimals."""
    value = round(value, PHI_DECIMALS)
    return int(value) if value == int(value) else value


def phi_name(phi: float) -> str:
    """B1, B-1, B0.5, B-0.25: unambiguous, since a φ has at most 3 decimals and is printed with all of them."""
    return f"B{_tidy_phi(phi)}"


def parse_phi_values(text: str) -> list[int | float]:
    """``-1,0.5,1.5``, ``-2..7``, ``1-7``, ``-2-3``, ``0.5..2.5`` → sorted unique φ within ±12.

    A range goes from its first value upwards in whole steps (``..`` or ``-`` between the ends, either end may be
    negative or fractional; its length must be whole); a list item is one value of at most 3 decimals. Whether a
    negative φ is too small for the network is not syntax: ``extrapolate`` decides it (``smallest_phi``)."""
    values: set[int | float] = set()
    for part in str(text).split(","):
        part = part.strip()
        match = re.fullmatch(rf"({_NUMBER})(?:\s*(?:\.\.|-)\s*({_NUMBER}))?", part)
        if not match:
            raise BudgetError(f"φ range {text!r} is malformed; {_PHI_SYNTAX}")
        low, high = float(match.group(1)), float(match.group(2) or match.group(1))
        for value in (low, high):
            if value != round(value, PHI_DECIMALS):
                raise BudgetError(f"φ {value:g} in {text!r} has more than {PHI_DECIMALS} decimals")
        if high < low:
            raise BudgetError(f"φ range {text!r} must go upwards, e.g. -2..7")
        if max(abs(low), abs(high)) > PHI_LIMIT:
            raise BudgetError(f"φ range {text!r} must stay within -{PHI_LIMIT}..{PHI_LIMIT}")
        steps = round(high - low)
        if abs(high - low - steps) > 1e-9:
            raise BudgetError(f"φ range {text!r} goes in whole steps, so its ends must be a whole number apart; "
                              "list fractional values instead, e.g. 0.5,1.25")
        values.update(_tidy_phi(low + step) for step in range(steps + 1))
    return sorted(values)


def parse_phis(text: str) -> list[int]:
    """Whole φ in 0..12 only (``--curve-phi``: the curve trains from the proxy base up): ``1-7``, ``3``, ``0,2,4``."""
    phis = parse_phi_values(text)
    if any(phi < 0 or phi != int(phi) for phi in phis):
        raise BudgetError(f"φ range {text!r} must be whole φ within 0-{PHI_LIMIT}, e.g. 0-2")
    return phis


CHANNEL_FLOOR = 8  # round_filters never goes below one multiple of 8
BLOCK_FLOOR = 1  # round_repeats keeps at least one block per stage


def total_stride(space: SearchSpace) -> int:
    """How many input pixels one pixel of the last feature map spans: the stem's, the max pool's and every stage's stride."""
    stride = space.stem.stride * (2 if space.stem.max_pool else 1)
    for stage in space.stages:
        stride *= stage.stride
    return stride


def resolution_floor(space: SearchSpace) -> int:
    """The smallest input a φ < 0 may ask for: the total stride (32 px for B0, ResNet-50, MobileNetV2), below which
    the last stage sees less than one pixel and its strides only pad; at least 8 px (as a base must be), and never
    above the base's own input."""
    return min(space.resolution, max(8, total_stride(space)))


def floors_at(space: SearchSpace, alpha: float, beta: float, gamma: float, phi: float) -> tuple[int, bool]:
    """(how many stages a floor holds, whether the resolution floor binds) at φ: docs/design.md §3, "Below B0".

    A floor binds where the unrounded target (base × α^φ, β^φ or γ^φ) is below it: fewer than one block, fewer
    than 8 channels (or the base's own count, if it has fewer), fewer pixels than ``resolution_floor``. Those are
    the places where the network stops being the base scaled by the formula. At φ ≥ 0 nothing shrinks, so nothing binds.
    """
    if phi >= 0:
        return 0, False
    depth, width, ratio = alpha**phi, beta**phi, gamma**phi
    slack = 1e-9  # a target exactly on a floor (2 blocks × 0.5) does not bind; float noise must not make it
    held = sum(
        1 for stage in space.stages
        if stage.repeats * depth < BLOCK_FLOOR - slack
        or stage.channels * width < min(CHANNEL_FLOOR, stage.channels) - slack
    )
    return held, space.resolution * ratio < resolution_floor(space) - slack


def phi_too_small(space: SearchSpace, alpha: float, beta: float, gamma: float, phi: float) -> bool:
    """A floor binds for most of the network: more than half of its stages are held, or the resolution floor binds."""
    held, resolution_held = floors_at(space, alpha, beta, gamma, phi)
    return resolution_held or held > len(space.stages) / 2


def smallest_phi(space: SearchSpace, alpha: float, beta: float, gamma: float) -> int | float:
    """The smallest φ (to the 3 decimals a φ may have, at least -12) that ``phi_too_small`` accepts.

    With α, β, γ ≥ 1 every target grows with φ, so the φ that work are all those from some value upwards: a
    bisection over the 0.001 grid finds it, and by construction agrees with the check itself."""
    check_coefficients(alpha, beta, gamma)
    step = 10**-PHI_DECIMALS
    low, high = -PHI_LIMIT * 10**PHI_DECIMALS, 0  # in steps; φ = 0 always works
    if not phi_too_small(space, alpha, beta, gamma, low * step):
        return -PHI_LIMIT
    while high - low > 1:  # invariant: low is refused, high works
        middle = (low + high) // 2
        if phi_too_small(space, alpha, beta, gamma, middle * step):
            low = middle
        else:
            high = middle
    return _tidy_phi(high * step)


def check_phis(space: SearchSpace, alpha: float, beta: float, gamma: float, phis) -> None:
    """Refuse, in one line, a φ so small that a floor binds for most of the network; name the smallest that works."""
    refused = [phi for phi in phis if phi_too_small(space, alpha, beta, gamma, phi)]
    if not refused:
        return
    phi = min(refused)
    held, resolution_held = floors_at(space, alpha, beta, gamma, phi)
    why = (f"its input would fall below {resolution_floor(space)} px" if resolution_held else
           f"{held} of its {len(space.stages)} stages would be held at one block or {CHANNEL_FLOOR} channels")
    least = smallest_phi(space, alpha, beta, gamma)
    raise BudgetError(
        f"φ = {_tidy_phi(phi)} is too small for alpha={alpha:g} beta={beta:g} gamma={gamma:g} on {space.name}: {why}, "
        f"so it is no longer the base scaled by α^φ, β^φ, γ^φ; the smallest φ that works is {least} "
        f"(the smallest whole φ: {math.ceil(least)})")


def extrapolate(
    space: SearchSpace, alpha: float, beta: float, gamma: float, phis=range(0, 8), resolution_multiple: int = 1
) -> list[tuple[str, int | float, ModelSpec]]:
    """(name, φ, spec) for depth α^φ, width β^φ, resolution base·γ^φ; φ may be negative or fractional (B-1, B0.5)
    down to ``smallest_phi``, below which it is refused (``check_phis``)."""
    check_phis(space, alpha, beta, gamma, phis)
    return [
        (phi_name(phi), phi, scale(space, width=beta**phi, depth=alpha**phi, resolution_ratio=gamma**phi,
                                   resolution_multiple=resolution_multiple))
        for phi in phis
    ]
