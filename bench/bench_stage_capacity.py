"""What a FLOPs budget buys each dimension on a proxy base: per stage, the channels × positions of every stage's
output (the most a layer can pass on) for the base and the depth-, width- and resolution-only lines at φ = 1 and 2,
relative to the base. Read off the real networks by forward hooks, no training (issue 19 §4; docs/benchmarks.md §11).

    python bench/bench_stage_capacity.py                     # cpu-tiny
    python bench/bench_stage_capacity.py --preset gpu-small

A planted task makes a dimension pay through a bottleneck the others cannot widen. Width widens every stage's
channels; resolution multiplies every stage's positions until the stride rounds them to the same grid; depth widens
neither, it adds layers of the same size. Where resolution's factor is the larger at a stage, a bottleneck there
is relieved more cheaply by resolution than by width.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_planted  # noqa: E402

LINES = ("depth-only", "width-only", "resolution-only")


def stage_sizes(spec_dict: dict) -> list[tuple[str, int, int]]:
    """(stage, channels, positions) of the stem, each stage's last block and the head, from one forward pass."""
    import torch

    from scalesearch.model.build import build_model
    from scalesearch.model.scaling import ModelSpec

    spec = ModelSpec.from_dict(spec_dict)
    model = build_model(spec, num_classes=10).eval()
    ends, index = [], -1
    for stage in spec.stages:
        index += stage.repeats
        ends.append(index)
    seen: list[tuple[str, int, int]] = []

    def record(name):
        return lambda module, inputs, output: seen.append((name, output.shape[1], output.shape[2] * output.shape[3]))

    model.stem.register_forward_hook(record("stem"))
    for number, end in enumerate(ends, start=1):
        model.blocks[end].register_forward_hook(record(f"s{number}"))
    model.head.register_forward_hook(record("head"))
    with torch.no_grad():
        model(torch.zeros(1, 3, spec.resolution, spec.resolution))
    return seen


def table(preset_name: str, phis: list[int]) -> list[str]:
    from scalesearch.training.presets import PRESETS

    chosen = bench_planted.networks(PRESETS[preset_name], 10, [0, *phis], list(LINES))
    base = stage_sizes(chosen[("base", 0)])
    header = "| network | px | " + " | ".join(name for name, _, _ in base) + " |"
    lines = [header, "|" + "---|" * (len(base) + 2)]
    lines.append(f"| base | {chosen[('base', 0)]['resolution']} | "
                 + " | ".join(f"{c}×{int(round(p ** 0.5))}²" for _, c, p in base) + " |")
    for phi in phis:
        for line in LINES:
            sizes = stage_sizes(chosen[(line, phi)])
            cells = [f"{c * p / (bc * bp):.2f}" for (_, c, p), (_, bc, bp) in zip(sizes, base)]
            lines.append(f"| {line} φ {phi} | {chosen[(line, phi)]['resolution']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--phis", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    print("\n".join(table(options.preset, options.phis)))
    print("(base row: channels × side²; other rows: channels × positions relative to the base's at that stage)")


if __name__ == "__main__":
    main()
