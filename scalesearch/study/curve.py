"""The paper's Figure 3 on the user's data (``--curve``): the winner and its rival (the best single-dimension
scaling, or the best compound network when a single dimension won) scaled to φ = 0, 1, 2, … on the proxy, trained
with the run's seeds, and plotted as accuracy against measured FLOPs.

At φ the network has depth α^φ, width β^φ and resolution base·γ^φ, with the coefficients the search recorded
(in measured mode γ is the solved, effective one). φ = 0 is the proxy base, shared by both curves; φ = 1 is the
network the search trained, whose seeds are taken from its table rather than trained again.
"""
from __future__ import annotations

import pandas as pd

from scalesearch.model.scaling import ModelSpec, scale
from scalesearch.model.spaces import SearchSpace
from scalesearch.study.planned import Planned
from scalesearch.study.rebuild import rebuild
from scalesearch.foundation.status import TrialStatus

BASE, WINNER, RIVAL = "base", "winner", "rival"


def curve_plan(table: pd.DataFrame, verdict, base: SearchSpace, *, phis: list[int], seeds: list[int],
               num_classes: int, cost) -> tuple[list[Planned], dict[str, dict]]:
    """(the trainings to run, the φ = 1 results already in the search's table), keyed alike.

    ``cost(spec, num_classes)`` gives the measured FLOPs and params of a network (cost/measure.measure)."""
    networks = [(WINNER, verdict.winner)] + ([(RIVAL, verdict.rival)] if verdict.rival is not None else [])
    plan: list[Planned] = []
    done: dict[str, dict] = {}
    for role, network in networks:
        trained = _rows_of(table, network.architecture)
        for phi in phis:
            if phi == 0 and role != WINNER:
                continue  # the base is one network: trained once, drawn on both curves
            spec = _network_at(base, network, phi, trained)
            measured = cost(spec, num_classes)
            labels = {"role": BASE if phi == 0 else role, "network": "base" if phi == 0 else network.name,
                      "reference": "" if phi == 0 else network.label, "phi": phi, "alpha": network.alpha ** phi,
                      "beta": network.beta ** phi, "gamma": network.gamma ** phi, "resolution": spec.resolution,
                      "flops": measured.flops, "params": measured.params}
            for seed in seeds:
                key = f"{labels['role']}:phi{phi}:seed{seed}"
                if phi == 1 and seed in network.seeds:
                    row = trained[trained["seed"].fillna(seeds[0]).astype(int) == seed].iloc[0]
                    done[key] = {**labels, "key": key, "seed": seed, "accuracy": network.seeds[seed],
                                 "train_seconds": 0.0, "from_trial": int(row["trial"])}
                name = f"base at φ={phi}" if phi == 0 else f"{role} {network.name} at φ={phi}"
                plan.append(Planned(key, spec.to_dict(), seed, labels, name))
    return plan, done


def curve_points(curve: pd.DataFrame) -> pd.DataFrame:
    """One row per (role, φ): the mean accuracy over seeds with sd, n and the 95% t-interval; the base row is
    repeated under each curve so that both lines start at φ = 0."""
    from scalesearch.verdict.statistics import estimate

    finished = curve[(curve["status"] == TrialStatus.COMPLETE) & curve["accuracy"].notna()]
    rows = []
    roles = [role for role in (WINNER, RIVAL) if (finished["role"] == role).any()]
    for role in roles:
        for phi, group in finished[finished["role"].isin([role, BASE])].groupby("phi"):
            accuracy = estimate(group["accuracy"])
            first = group.iloc[0]
            names = finished[finished["role"] == role]["network"]
            rows.append({"role": role, "network": names.iloc[0], "phi": int(phi), "flops": float(first["flops"]),
                         "resolution": int(first["resolution"]), "mean": accuracy.mean, "sd": accuracy.sd,
                         "n": accuracy.n, "low": accuracy.low, "high": accuracy.high})
    return pd.DataFrame(rows)


def curve_difference(curve: pd.DataFrame):
    """(φ, winner − rival over paired seeds) at the largest φ both curves reached; None without a rival."""
    from scalesearch.verdict.statistics import paired_difference

    finished = curve[(curve["status"] == TrialStatus.COMPLETE) & curve["accuracy"].notna()]
    for phi in sorted(finished["phi"].unique(), reverse=True):
        at = finished[finished["phi"] == phi]
        winner, rival = ({int(s): float(a) for s, a in zip(group["seed"], group["accuracy"])}
                         for group in (at[at["role"] == WINNER], at[at["role"] == RIVAL]))
        difference = paired_difference(winner, rival) if winner and rival else None
        if difference is not None:
            return int(phi), difference
    return None


def _rows_of(table: pd.DataFrame, architecture: str) -> pd.DataFrame:
    return table[(table["architecture"] == architecture) & (table["status"] == TrialStatus.COMPLETE)]


def _network_at(base: SearchSpace, network, phi: int, trained: pd.DataFrame) -> ModelSpec:
    if phi == 1 and not trained.empty:  # exactly the network the search trained
        return rebuild(base, trained.iloc[0])
    return scale(base, depth=network.alpha ** phi, width=network.beta ** phi, resolution_ratio=network.gamma ** phi)
