"""A test aid: a ground-truth table (bench/ground_truth.py's CSV: trainings of every network a default run can meet,
at several lengths and paired seeds) as the trainings of a replay, and the true quality it holds.

A replay (scalesearch/testing/calibration.decision_path) asks for a network and a run seed; the table answers with
the accuracy and the CPU seconds that training had. A replay's seeds are a permutation of the table's, so replays
differ in which seeds a run meets as it does in which it meets first; pairing holds, since the table's seed s is
paired over all networks. A network's **true quality** is its mean at the truth's length (4 × the proxy's).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalesearch.model.scaling import ModelSpec


class MissingTraining(LookupError):
    """The table has no row for a training a replay asked for: the table is not complete enough for this replay."""


@dataclass(frozen=True)
class GroundTruth:
    rows: pd.DataFrame  # one training a row: architecture, epochs, seed, accuracy, cpu_seconds, ...
    proxy_epochs: int = 4
    truth_epochs: int = 16

    @classmethod
    def load(cls, path: Path | str, proxy_epochs: int = 4, truth_factor: float = 4.0) -> "GroundTruth":
        rows = pd.read_csv(path, usecols=lambda column: column not in ("spec", "history"))
        return cls(rows, proxy_epochs, round(proxy_epochs * truth_factor))

    def at(self, epochs: int) -> pd.DataFrame:
        """Accuracies at one length: a network a row, a seed a column (NaN where not trained)."""
        rows = self.rows[self.rows["epochs"] == epochs]
        return rows.pivot_table(index="architecture", columns="seed", values="accuracy", aggfunc="first")

    def seeds(self, epochs: int | None = None) -> list[int]:
        """The seeds every search network of the table has at that length (the proxy's by default). NNI's own
        networks are left out: the table trains them last, so counting them would hide every seed a search has."""
        table = self._search_networks(self.at(epochs or self.proxy_epochs))
        return sorted(int(seed) for seed in table.columns[table.notna().all()])

    def _search_networks(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table``'s rows of the search's networks: NNI's own are trained last and for fewer seeds."""
        if "nni_only" not in self.rows:
            return table
        return table[table.index.isin(self.rows.loc[~self.rows["nni_only"].astype(bool), "architecture"])]

    def has(self, architectures, seed: int, epochs: int | None = None) -> bool:
        """Whether every one of ``architectures`` has a training with the table's ``seed`` at that length."""
        table = self.at(epochs or self.proxy_epochs)
        return seed in table.columns and table[seed].reindex(list(set(architectures))).notna().all()

    def trainer(self, seed_order: list[int], latency=None, first_seed: int = 0):
        """A replay's ``train(spec, seed, epochs=None)`` (epochs: the proxy's unless a rung asks for another): run
        seed ``first_seed + k`` (a run's seeds start at its ``--seed``) is the table's seed ``seed_order[k]``.
        ``latency(spec)`` is the tie-break's figure (the table has no timings that a tie-break could use)."""
        answers = {(str(row.architecture), int(row.epochs), int(row.seed)):
                   (float(row.accuracy), float(row.loss), float(row.cpu_seconds)) for row in self.rows.itertuples()}

        def train(spec: ModelSpec, seed: int, epochs: int | None = None) -> dict:
            epochs = epochs or self.proxy_epochs
            if not 0 <= seed - first_seed < len(seed_order):
                raise MissingTraining(f"run seed {seed} (from {first_seed}): the replay's seed order has only "
                                      f"{len(seed_order)} seeds")
            key = (spec.architecture(), epochs, seed_order[seed - first_seed])
            if key not in answers:
                raise MissingTraining(f"no {epochs}-epoch training of {key[0]} with seed {key[2]} in the table")
            accuracy, loss, seconds = answers[key]
            return {"accuracy": accuracy, "loss": loss, "train_loss": loss, "epochs": epochs,
                    "train_seconds": seconds, "latency_ms": latency(spec) if latency else 0.0, "device": "table"}

        return train

    def truth(self, minimum_seeds: int = 3) -> pd.Series:
        """Each network's true quality: its mean over the seeds at the truth's length; networks with fewer than
        ``minimum_seeds`` of them are left out."""
        table = self.at(self.truth_epochs)
        counts = table.notna().sum(axis=1)
        return table[counts >= minimum_seeds].mean(axis=1)

    def references(self) -> dict[str, str]:
        """{architecture: the references it is, "+"-joined} of the networks that are one."""
        if "references" not in self.rows:
            return {}
        labels = self.rows.drop_duplicates("architecture").set_index("architecture")["references"]
        return {architecture: label for architecture, label in labels.items() if isinstance(label, str) and label}

    def searched(self) -> set[str]:
        """The networks a default run can pick: the search's on budget (the references included), not NNI's own
        formula-mode networks, whose measured FLOPs a run's constraint would refuse."""
        rows = self.rows[~self.rows["nni_only"].astype(bool) & self.rows["feasible"].astype(bool)]
        return set(rows["architecture"])

    def best(self, minimum_seeds: int = 3) -> float:
        """The true quality of the best network a default run can pick: what a pick's regret is counted from."""
        qualities = self.truth(minimum_seeds)
        return float(qualities[qualities.index.isin(self.searched())].max())

    def paired_sd(self, epochs: int | None = None) -> float:
        """The sd of the paired difference of two networks' accuracies at that length (the truth's by default):
        each accuracy less its network's mean and its seed's mean (the part every network shares for that seed),
        pooled over the search's networks with the degrees of freedom of a two-way layout, times sqrt(2)."""
        table = self._search_networks(self.at(epochs or self.truth_epochs))
        seeds = [seed for seed in table.columns if table[seed].notna().all()]
        table = table[seeds].dropna()
        networks, n = table.shape
        if networks < 2 or n < 2:
            return math.nan
        values = table.to_numpy()
        residual = values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True) + values.mean()
        own_sd = math.sqrt(float(np.sum(residual**2)) / ((networks - 1) * (n - 1)))
        return math.sqrt(2.0) * own_sd


def world_table(base, networks: dict, world, truth_world, proxy_epochs: int = 4, truth_epochs: int = 16,
                proxy_seeds: int = 8, truth_seeds: int = 5, drop=()) -> pd.DataFrame:
    """The table bench/ground_truth.py would write if training were ``world`` (a testing.worlds.World, at the proxy's
    length) and ``truth_world`` (the truth's length) for ``networks`` (``networks_of``), less the (architecture,
    epochs, seed) in ``drop``. Its CPU seconds are the network's FLOPs ratio × epochs, so that compute is known."""
    import json

    rows = []
    for architecture, network in networks.items():
        spec = ModelSpec.from_dict(json.loads(network["spec"]))
        shape = (spec.depth, spec.width, spec.resolution / base.resolution)
        for epochs, drawn, seeds in ((proxy_epochs, world, proxy_seeds), (truth_epochs, truth_world, truth_seeds)):
            for seed in range(seeds):
                if (architecture, epochs, seed) in drop:
                    continue
                accuracy = drawn.accuracy(architecture, seed, *shape)
                rows.append({"architecture": architecture, "references": network["references"],
                             "nni_only": network["nni_only"],
                             "feasible": network["feasible"], "epochs": epochs, "seed": seed, "accuracy": accuracy,
                             "loss": 1 - accuracy, "cpu_seconds": network["flops_ratio"] * epochs})
    return pd.DataFrame(rows)


def networks_of(base, base_flops: int, settings) -> dict[str, dict]:
    """{architecture: fields} of every network a run under ``settings`` can train: the references however each is
    solved, the continuous samplers' share grid (on ``SHARE_STEP``) mapped and re-solved in resolution as the study
    does and kept where on budget, and NNI's formula grid (``nni_grid``), marked ``nni_only`` where the search never
    meets it. ``references`` names the references a network is ("+"-joined)."""
    import json

    from scalesearch.study.candidates import measure_candidate
    from scalesearch.study.samplers import SHARE_STEP, coefficients_from_shares, reference_points

    networks: dict[str, dict] = {}

    def add(candidate, label: str, nni: bool = False) -> None:
        architecture = candidate.spec.architecture()
        row = networks.setdefault(architecture, {
            "architecture": architecture, "references": "", "alpha": candidate.alpha, "beta": candidate.beta,
            "gamma": candidate.gamma, "resolution": candidate.spec.resolution, "flops": candidate.cost.flops,
            "flops_ratio": candidate.flops_ratio, "feasible": candidate.feasible, "nni_only": nni,
            "spec": json.dumps(candidate.spec.to_dict())})
        if label:
            row["references"] = "+".join(filter(None, [row["references"], label]))

    for reference in reference_points(base.name, settings.budget, settings.constraint):
        add(measure_candidate(base, base_flops, settings, reference.alpha, reference.beta, reference.gamma,
                              reference.solve), reference.label)
    steps = round(1 / SHARE_STEP)
    for i in range(steps + 1):
        for j in range(steps + 1):
            alpha, beta, gamma = coefficients_from_shares(i * SHARE_STEP, j * SHARE_STEP, settings.budget)
            candidate = measure_candidate(base, base_flops, settings, alpha, beta, gamma, "resolution")
            if candidate.feasible:
                add(candidate, "")
    for candidate in nni_grid(base, base_flops, settings):
        if candidate.spec.architecture() not in networks:
            add(candidate, "", nni=True)
    return networks


def nni_grid(base, base_flops: int, settings) -> list:
    """NNI's EfficientNet procedure's candidates, in grid order, repeats kept (NNI does not dedupe): the formula grid
    at step 0.05 (α in [1, 2], β and γ in [1, 1.5]) within 0.1 of α·β²·γ² = the budget, built in formula mode (γ as
    given, not solved). 108 points at 2×."""
    from scalesearch.study.feasibility import evaluate
    from scalesearch.study.samplers import GridSpec, formula_feasible, grid_points

    return [evaluate(base, base_flops, alpha, beta, gamma, budget=settings.budget, tolerance=NNI_TOLERANCE,
                     constraint="formula", num_classes=settings.num_classes, solve_resolution=False)
            for alpha, beta, gamma in grid_points(GridSpec(step=0.05))
            if formula_feasible(alpha, beta, gamma, settings.budget, NNI_TOLERANCE)]


NNI_TOLERANCE = 0.1  # NNI's |α·β²·γ² − 2| < 0.1
