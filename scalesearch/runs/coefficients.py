"""The coefficients JSON (format ``scalesearch.coefficients``): versioned, self-contained (each network's full
spec), rebuildable with ``build_model_from_json``."""
from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.foundation.atomic import write_atomically
from scalesearch.model.scaling import (
    FLOPS_CONVENTION,
    ModelSpec,
    check_coefficients,
    formula_product,
    official_efficientnets,
)
from scalesearch.model.phis import extrapolate
from scalesearch.model.spaces import SearchSpace, load_space

FORMAT = "scalesearch.coefficients"
VERSION = 1


def provenance() -> dict:
    import torch

    from scalesearch import __version__

    return {
        "tool": f"scalesearch {__version__}",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def model_entry(name: str, phi: int | float | None, spec: ModelSpec, base_flops: int, num_classes: int, counter="fvcore") -> dict:
    from scalesearch.cost.measure import measure

    cost = measure(spec, num_classes, counter)
    return {
        "name": name,
        "phi": phi,
        "width": spec.width,
        "depth": spec.depth,
        "resolution": spec.resolution,
        "flops": cost.flops,
        "params": cost.params,
        "activations": cost.activations,
        "flops_ratio": cost.flops / base_flops,
        "stages": [{"channels": stage.channels, "repeats": stage.repeats} for stage in spec.stages],
        "spec": spec.to_dict(),
    }


def coefficients_document(
    space: SearchSpace | str,
    alpha: float,
    beta: float,
    gamma: float,
    *,
    budget: float | None = None,
    phis=range(1, 8),
    num_classes: int = 1000,
    resolution_multiple: int = 1,
    counter: str = "fvcore",
    search: dict | None = None,
) -> dict:
    """Everything a user takes away from a search: coefficients and the networks they build at ``phis`` (B1..B7
    by default; negative and fractional φ too, e.g. B-1 and B0.5), always with B0, listed by φ."""
    space = load_space(space)
    check_coefficients(alpha, beta, gamma)
    phis = sorted(set(phis) | {0})
    networks = extrapolate(space, alpha, beta, gamma, phis, resolution_multiple)
    # Every ratio is to B0, which sits among the others when φ < 0 is asked for: measure it first.
    base = model_entry("B0", 0, next(spec for _, phi, spec in networks if phi == 0), 1, num_classes, counter)
    base_flops = base["flops"]
    base["flops_ratio"] = 1.0
    models = [base if phi == 0 else model_entry(name, phi, spec, base_flops, num_classes, counter)
              for name, phi, spec in networks]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "space": space.name,
        "budget": budget,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
        "formula_product": formula_product(alpha, beta, gamma),
        "num_classes": num_classes,
        "resolution_multiple": resolution_multiple,
        "flops_convention": FLOPS_CONVENTION,
        "base": {key: base[key] for key in ("resolution", "flops", "params", "activations")},
        "models": models,
        "ideal_flops_ratio": {str(phi): (budget or formula_product(alpha, beta, gamma)) ** phi for phi in phis},
        "provenance": provenance(),
    }
    if space.name == "efficientnet_b0":
        document["official"] = [
            model_entry(name, int(name[1:]), spec, base_flops, num_classes, counter)
            for name, spec in official_efficientnets(space)
        ]
    if search is not None:
        document["search"] = search
    return document


def write_document(document: dict, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from error
    return path


def read_document(path: str | Path) -> dict:
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"JSON file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{path} is not a scalesearch coefficients file (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise InputError(f"{path} has format version {document.get('version')}; this scalesearch reads {VERSION}")
    return document


def build_model_from_json(path: str | Path, phi: int | float = 1, num_classes: int | None = None, official: bool = False):
    """Rebuild the network of φ = ``phi`` (or the official B``phi``) listed in a coefficients file."""
    from scalesearch.model.build import build_model

    document = read_document(path)
    entries = document.get("official", []) if official else document["models"]
    for entry in entries:
        if entry["phi"] == phi:
            spec = ModelSpec.from_dict(entry["spec"])
            return build_model(spec, num_classes or document["num_classes"])
    listed = ", ".join(str(entry["phi"]) for entry in entries) or "none"
    raise InputError(f"{path} lists no network with phi={phi} (listed: {listed})")
