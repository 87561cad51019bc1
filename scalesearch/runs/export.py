"""A run's winner exported: RUN_DIR/winner.json, the coefficients document of the winning network on the run's
full space, with the verdict and the run's ``status`` from run.json (``complete``, ``interrupted``, ``failed`` or
``running``; ``unknown`` when run.json does not say). Only a complete run's winner is the winner of the search it
asked for; the others are the best of the trials it finished.

Every network's cost in it is counted by arithmetic, like the search's candidates; fvcore traces one network, the
winner's φ=1, to check that count (``flops_check``), and a disagreement is said on stderr as well as in the file.
"""
from __future__ import annotations

import dataclasses
import logging

from scalesearch.foundation.errors import InputError
from scalesearch.model.spaces import load_space
from pathlib import Path

from scalesearch.runs.coefficients import FORMAT, VERSION, coefficients_document, write_document
from scalesearch.study.halving import rank_agreement
from scalesearch.foundation.run_files import WINNER_JSON

PICKS = ("best", "knee")

log = logging.getLogger("scalesearch.runs.export")


def _plain(value):
    """A table cell as JSON: None for missing, Python numbers instead of numpy's."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def search_record(run, winner, pick: str) -> dict:
    """Where the coefficients came from: enough to find the trial again and judge it."""
    return {
        "run": run.name,
        "run_dir": str(run.path.resolve()),
        "space": run.record.space,
        "trial": _plain(winner["trial"]),
        "pick": pick,
        "accuracy": _plain(winner["accuracy"]),
        "flops_ratio": _plain(winner["flops_ratio"]),
        "formula_product": _plain(winner["formula_product"]),
        "seed": _plain(winner["seed"]),
        "seeds": _plain(winner.get("seeds")),  # how many seeds the accuracy is the mean of
        "sampler": run.record.sampler or _plain(winner["sampler"]),
        "constraint": run.record.constraint or _plain(winner["constraint"]),
        "tolerance": run.record.tolerance,
        "proxy_base": dataclasses.asdict(run.record.proxy_base) if run.record.proxy_base else None,
        "data": run.record.data,
        # --fidelity halving: each rung against the next, on the promoted and the references (study/halving.py); []
        # at full fidelity
        "halving_rank_agreement": rank_agreement(run.table),
    }


def winner_document(run, winner, pick: str = "best", phis=range(1, 8)) -> dict:
    """coefficients_document of the winner applied to the run's *full* space (B0..B7, or B0 and ``phis``).

    In measured mode the proxy's γ absorbed the proxy's own rounding, so on the full
    space γ is solved again for the winner's α and β: its B1 then measures the budget,
    as the user asked. The proxy's coefficients stay in ``search``; the run's ``status`` sits at the top."""
    from scalesearch.runs.folder import require_space

    space = load_space(require_space(run))
    alpha, beta, gamma = float(winner["alpha"]), float(winner["beta"]), float(winner["gamma"])
    num_classes = int(run.record.num_classes or 1000)
    if (run.record.constraint or "measured") == "measured" and run.budget:
        gamma = _full_space_gamma(space, alpha, beta, run.budget, num_classes)
    record = search_record(run, winner, pick)
    record["proxy_coefficients"] = {"alpha": float(winner["alpha"]), "beta": float(winner["beta"]),
                                    "gamma": float(winner["gamma"])}
    document = coefficients_document(
        space, alpha, beta, max(1.0, gamma), budget=run.budget, phis=phis, num_classes=num_classes,
        resolution_multiple=int(run.record.resolution_multiple or 1), counter="arithmetic", search=record,
    )
    document["flops_check"] = flops_check(document)
    from scalesearch.verdict.verdict import decide

    verdict = decide(run.table, run.tie_break, run.looks)
    # Beside the format, where a reader looks first: an unfinished run's winner is provisional, and the verdict
    # says how sure the choice is.
    return {"format": FORMAT, "version": VERSION, "status": str(run.record.status or "unknown"),
            "verdict": verdict.to_dict() if verdict else None} | document


def flops_check(document: dict) -> dict:
    """The winner's φ=1 network traced by fvcore against the arithmetic count the document holds for it.

    ``agrees`` is None where there is nothing to compare: the arithmetic did not know the network's layers (fvcore
    counted it already), or fvcore's tracer broke and PyTorch's counter, which counts less, stood in."""
    from scalesearch.cost.measure import measure
    from scalesearch.model.scaling import ModelSpec

    entry = next((model for model in document["models"] if model["phi"] == 1), document["models"][-1])
    spec = ModelSpec.from_dict(entry["spec"])
    counted = measure(spec, document["num_classes"], "arithmetic")
    traced = measure(spec, document["num_classes"], "fvcore")
    check = {"network": entry["name"], "counter": traced.counter, "flops": traced.flops,
             "arithmetic": counted.flops if counted.counter == "arithmetic" else None, "agrees": None}
    if check["arithmetic"] is not None and traced.counter == "fvcore":
        check["agrees"] = counted.flops == traced.flops
        if not check["agrees"]:
            log.warning("FLOPs check failed: fvcore counts %s FLOPs for the winner's %s, the arithmetic counter %s; "
                        "every count in winner.json and the search came from the arithmetic counter and may be wrong",
                        f"{traced.flops:,}", entry["name"], f"{counted.flops:,}")
    return check


def _full_space_gamma(space, alpha: float, beta: float, budget: float, num_classes: int) -> float:
    from scalesearch.study.feasibility import evaluate
    from scalesearch.cost.measure import measure
    from scalesearch.model.scaling import scale

    base_flops = measure(scale(space), num_classes, "arithmetic").flops
    candidate = evaluate(space, base_flops, alpha, beta, 1.0, budget=budget, tolerance=budget, constraint="measured",
                         num_classes=num_classes, solve_resolution=True)
    return candidate.gamma


def document_matches(document: dict, run, winner) -> bool:
    """Whether ``document`` (e.g. an existing winner.json) holds this run's winner, so it need not be measured again."""
    import math

    search = document.get("search") or {}
    try:
        searched = search.get("proxy_coefficients") or document
        same_coefficients = all(
            math.isclose(float(searched[key]), float(winner[key]), rel_tol=1e-12) for key in ("alpha", "beta", "gamma")
        )
    except (KeyError, TypeError, ValueError):
        return False
    wanted_classes = run.record.num_classes or 1000
    return (
        same_coefficients
        and search.get("space", document.get("space")) == run.record.space
        and document.get("num_classes") == wanted_classes
        and document.get("budget") == run.budget
        and document.get("resolution_multiple", 1) == (run.record.resolution_multiple or 1)
    )


def export_run(run_dir, json_path=None, pick: str = "best", csv_path=None, parquet_path=None, phis=range(1, 8)) -> dict:
    """The winner's coefficients and B0..B7 (or B0 and ``phis``, e.g. -2..7) as JSON (default RUN_DIR/winner.json);
    copies of the table on request. The report shows the networks a matching winner.json lists.

    Whatever the run's status: an interrupted run's finished trials have a winner too, marked by ``status``.

    Returns the written paths by kind: ``{"json": …, "csv": …, "parquet": …}``.
    """
    from scalesearch.runs.winner import pick_winner
    from scalesearch.runs.folder import read_run

    if pick not in PICKS:
        raise InputError(f"unknown pick {pick!r}; use best or knee")
    run = read_run(run_dir)
    winner = pick_winner(run.table, pick, run.tie_break)
    if winner is None:
        raise InputError(f"{run.path}: no complete, feasible trial to export")
    written = {"json": write_document(winner_document(run, winner, pick, phis), json_path or run.path / WINNER_JSON)}
    for kind, target, write in (
        ("csv", csv_path, lambda path: run.table.to_csv(path, index=False)),
        ("parquet", parquet_path, lambda path: run.table.to_parquet(path, index=False)),
    ):
        if target is None:
            continue
        target = Path(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write(target)
        except OSError as error:
            raise InputError(f"cannot write {target}: {error.strerror or error}") from error
        written[kind] = target
    return written
