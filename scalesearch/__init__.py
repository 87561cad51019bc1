"""scalesearch: find the compound-scaling coefficients (α, β, γ) for your network, data and budget.

Heavy modules (torch, fvcore, optuna, ray, pandas, plotly) load only when used.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["build_model", "build_model_from_json", "scale", "load_space", "measure", "search", "__version__"]


def build_model(
    space_or_spec="efficientnet_b0",
    width: float = 1.0,
    depth: float = 1.0,
    resolution_ratio: float = 1.0,
    num_classes: int = 1000,
):
    """``build_model("efficientnet_b0", width=1.4, depth=1.8)``, or ``build_model(spec)``; ``resolution_ratio``
    multiplies the space's input size."""
    from scalesearch.model.build import build_model as build
    from scalesearch.model.scaling import ModelSpec, scale
    from scalesearch.model.spaces import load_space

    if isinstance(space_or_spec, ModelSpec):
        spec = space_or_spec
    else:
        spec = scale(load_space(space_or_spec), width=width, depth=depth, resolution_ratio=resolution_ratio)
    return build(spec, num_classes)


def __getattr__(name):
    if name == "build_model_from_json":
        from scalesearch.runs.coefficients import build_model_from_json

        return build_model_from_json
    if name == "scale":
        from scalesearch.model.scaling import scale

        return scale
    if name == "load_space":
        from scalesearch.model.spaces import load_space

        return load_space
    if name == "measure":
        from scalesearch.cost.measure import measure

        return measure
    if name == "search":
        from scalesearch.pipeline.run import search

        return search
    raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
