"""Extrapolation check: B1–B7 built from the paper's (α, β, γ) = (1.2, 1.1, 1.15) against the released B1–B7.

    python bench/bench_extrapolation.py --classes 1000 --resolution-multiple 1

Prints markdown: both families side by side (multipliers, blocks, fvcore FLOPs, params, activations),
the FLOPs ratio Bφ/B0 per φ against 2^φ and (α·β²·γ²)^φ, and which φ each official multiplier
corresponds to. Counting is deterministic, so one run suffices. Counts are cached on disk by the package
(SCALESEARCH_CACHE=off counts everything afresh).
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from scalesearch.cost.measure import measure
from scalesearch.model.scaling import (
    FLOPS_CONVENTION,
    OFFICIAL_EFFICIENTNET,
    PAPER_COEFFICIENTS,
    formula_product,
    official_efficientnets,
)
from scalesearch.model.phis import extrapolate
from scalesearch.model.spaces import load_space


def markdown(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def blocks(spec) -> int:
    return sum(stage.repeats for stage in spec.stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    # 1 pixel, the default of `scalesearch extrapolate` and of scaling.extrapolate.
    parser.add_argument("--resolution-multiple", type=int, default=1)
    options = parser.parse_args()
    torch.set_num_threads(1)  # counting does not need more, and the machine is shared

    space = load_space("efficientnet_b0")
    alpha, beta, gamma = PAPER_COEFFICIENTS
    # extrapolate names the network of φ "Bφ": the paper's B1–B7 are taken as φ = 1..7.
    extrapolated = {name: spec for name, _, spec in extrapolate(space, alpha, beta, gamma, range(8), options.resolution_multiple)}
    official = dict(official_efficientnets(space))
    assert official["B0"].architecture_key() == extrapolated["B0"].architecture_key(), "both families share B0"

    cost, counted_seconds, cached = {}, 0.0, 0
    start = time.perf_counter()
    for name in OFFICIAL_EFFICIENTNET:  # B0 first, B7 (slowest to trace) last
        for family, spec in (("official", official[name]), ("extrapolated", extrapolated[name])):
            result = measure(spec, options.classes)
            cost[family, name] = result
            counted_seconds += result.seconds
            cached += result.seconds == 0.0
            print(f"{family} {name} {spec.resolution} px: {result.seconds:.1f} s", file=sys.stderr)
    wall = time.perf_counter() - start

    def columns(family: str, name: str) -> list:
        spec = (official if family == "official" else extrapolated)[name]
        result = cost[family, name]
        return [f"{spec.width:.3f}", f"{spec.depth:.3f}", spec.resolution, blocks(spec),
                f"{result.flops / 1e9:.4f}", f"{result.params / 1e6:.3f}", f"{result.activations / 1e6:.2f}"]

    per_family = ["width", "depth", "px", "blocks", "GFLOPs", "params M", "act. M"]
    headers = ["model", *(f"off. {h}" for h in per_family), *(f"extr. {h}" for h in per_family),
               "FLOPs extr/off", "params extr/off", "act. extr/off"]
    rows = []
    for name in OFFICIAL_EFFICIENTNET:
        extr, off = cost["extrapolated", name], cost["official", name]
        rows.append([name, *columns("official", name), *columns("extrapolated", name),
                     f"{extr.flops / off.flops:.3f}", f"{extr.params / off.params:.3f}",
                     f"{extr.activations / off.activations:.3f}"])
    print(f"### Official vs extrapolated (α, β, γ) = {PAPER_COEFFICIENTS}, {options.classes} classes\n")
    print(markdown(headers, rows))

    product = formula_product(alpha, beta, gamma)
    base = {family: cost[family, "B0"].flops for family in ("official", "extrapolated")}
    rows = []
    for phi, name in enumerate(OFFICIAL_EFFICIENTNET):
        extr = cost["extrapolated", name].flops / base["extrapolated"]
        off = cost["official", name].flops / base["official"]
        # What the formula would promise for the official multipliers, to separate hand-picking from rounding.
        spec = official[name]
        off_formula = spec.depth * spec.width**2 * (spec.resolution / space.resolution) ** 2
        rows.append([phi, 2**phi, f"{product**phi:.3f}", f"{extr:.3f}", f"{extr / 2**phi:.3f}",
                     f"{off:.3f}", f"{off / 2**phi:.3f}", f"{off_formula:.3f}"])
    print(f"\n### FLOPs ratio Bφ/B0 against 2^φ (α·β²·γ² = {product:.4f})\n")
    print(markdown(["φ", "2^φ", "(α·β²·γ²)^φ", "extr. measured", "extr. ÷ 2^φ",
                    "official measured", "official ÷ 2^φ", "official d·w²·r²"], rows))

    rows = []
    for name, spec in official.items():
        implied = [math.log(value) / math.log(coefficient) for value, coefficient in
                   ((spec.depth, alpha), (spec.width, beta), (spec.resolution / space.resolution, gamma))]
        rows.append([name, *(f"{value:.2f}" for value in implied)])
    print("\n### φ implied by each official multiplier (log(multiplier) / log(coefficient))\n")
    print(markdown(["model", "depth: log d / log α", "width: log w / log β", "resolution: log r / log γ"], rows))

    print(f"\nFLOPs: {FLOPS_CONVENTION}. torch {torch.__version__}, 1 thread.")
    print(f"Counted {len(cost) - cached} networks in {counted_seconds:.1f} s ({cached} from the cache); "
          f"measurement wall time {wall:.1f} s.")


if __name__ == "__main__":
    main()
