"""What one search is asked for: the settings of its study (the budget, the constraint, the sampler, the stages)."""
from __future__ import annotations

from dataclasses import dataclass, field

from scalesearch.study.samplers import GridSpec


@dataclass(frozen=True)
class SearchSettings:
    budget: float
    tolerance: float = 0.1
    constraint: str = "measured"  # measured | formula
    sampler: str = "tpe"
    trials: int = 12  # proxy trainings (infeasible and duplicate candidates do not count)
    seed: int = 0
    references: bool = True
    grid: GridSpec = field(default_factory=GridSpec)
    num_classes: int = 10
    seeds: int = 1  # seeds per confirmed network; 1: no confirm stage
    confirm: int = 3  # the top distinct networks of the explore stage that the confirm stage trains again
    allow_shrink: bool = False  # the paper's rule is α, β, γ ≥ 1; True lets measured mode solve γ < 1
    max_seeds: int | None = None  # --seeds auto: further paired seeds up to this many (study/auto_seeds.py); None: fixed
    tie_break: str = "latency"  # the verdict's, which --seeds auto asks which networks to compare
    # --fidelity halving: the rungs' lengths in epochs, the proxy's own last (study/halving.py); (): full fidelity
    rungs: tuple[int, ...] = ()
    reduction: int = 3  # the best 1/reduction of a rung trains at the next
    # Train the two compounds next to a single-dimension explore leader before confirming (study/corner.py)
    corner_check: bool = False

    @property
    def checks_corners(self) -> bool:
        """Whether this run can add the corner check's neighbours: they are the sampler's share points (a grid
        walks its own points), and full fidelity only (a neighbour would need the rungs)."""
        return self.corner_check and self.sampler != "grid" and not self.halving

    @property
    def halving(self) -> bool:
        return len(self.rungs) > 1

    @property
    def looks(self):
        """Where the verdict may stop on a finding, and each look's level (verdict/sequential.Looks)."""
        from scalesearch.verdict.sequential import looks

        return looks(self.seeds, self.max_seeds)
