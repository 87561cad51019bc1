"""Plain-text tables for the terminal."""
from __future__ import annotations


def human(number: float, unit: str = "") -> str:
    """1234567 → '1.23M'."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:.3g}{suffix}{unit}"
    return f"{number:.3g}{unit}"


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[index]) for row in cells)) if cells else len(header) for index, header in enumerate(headers)]
    lines = ["  ".join(header.rjust(width) for header, width in zip(headers, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(value.rjust(width) for value, width in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def extrapolation_table(models: list[dict]) -> str:
    headers = ["name", "phi", "width", "depth", "resolution", "FLOPs", "params", "activations", "FLOPs ratio"]
    rows = [
        [
            model["name"],
            "" if model["phi"] is None else model["phi"],
            f"{model['width']:.3f}",
            f"{model['depth']:.3f}",
            model["resolution"],
            human(model["flops"]),
            human(model["params"]),
            human(model["activations"]),
            f"{model['flops_ratio']:.2f}x",
        ]
        for model in models
    ]
    return format_table(headers, rows)
