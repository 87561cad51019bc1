"""Numbers as people read them, for the terminal and the report alike."""
from __future__ import annotations


def human(number: float, unit: str = "") -> str:
    """1234567 → '1.23M'."""
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:.3g}{suffix}{unit}"
    return f"{number:.3g}{unit}"
