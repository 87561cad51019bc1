"""A trained network rebuilt from its row of the results table, for the stages that train it again (``--curve``,
``scalesearch check``): the table keeps each network's multipliers and pixels, which is all ``scale`` needs."""
from __future__ import annotations

import pandas as pd

from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import ModelSpec, scale
from scalesearch.model.spaces import SearchSpace


def rebuild(base: SearchSpace, row: pd.Series) -> ModelSpec:
    """The network of ``row`` (its ``architecture`` checked: a different base would build another network)."""
    spec = scale(base, width=float(row["width"]), depth=float(row["depth"]), pixels=int(row["resolution"]))
    if spec.architecture() != row["architecture"]:
        raise InputError(f"trial {row['trial']}'s network cannot be rebuilt from its width, depth and resolution on "
                         f"this base ({base.name}); was the run's space or preset changed?")
    return spec
