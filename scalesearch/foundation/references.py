"""The reference trials' names, as the table's ``reference`` column holds them: the study enqueues them, the verdict
compares with them, the report lists them in this order."""
from __future__ import annotations

PAPER = "paper"  # the paper's (α, β, γ) = (1.2, 1.1, 1.15), γ solved to the budget in measured mode
PAPER_LITERAL = "paper-literal"  # the paper's point as given, whatever it measures
FAST_COMPOUND = "dWr"  # fast compound scaling (Dollár et al. 2021): mostly width, a little depth and resolution
DEPTH_ONLY, WIDTH_ONLY, RESOLUTION_ONLY = "depth-only", "width-only", "resolution-only"
SINGLE_DIMENSION = (DEPTH_ONLY, WIDTH_ONLY, RESOLUTION_ONLY)
ORDER = (PAPER, PAPER_LITERAL, FAST_COMPOUND, *SINGLE_DIMENSION)
# The references a verdict compares the winner with (verdict/verdict.py), so the confirm stage judges them on every
# seed. Paper-literal is reported, never compared: it costs about twice the budget, so its accuracy is no rival at
# equal FLOPs, and its further seeds would buy no finding (docs/design.md §4).
COMPARED = (PAPER, FAST_COMPOUND, *SINGLE_DIMENSION)


def in_order(labels) -> list[str]:
    """The distinct ``labels`` as the run's last lines and the report list them: ``ORDER``, then any other sorted."""
    present = set(labels)
    return [label for label in ORDER if label in present] + sorted(present - set(ORDER))
