"""The objective a Ray trial runs for a candidate in a real run: the proxy training.

Every objective has the signature ``objective(spec, dataset, settings, on_epoch) -> dict`` whose keys are result
columns of the table (``foundation/table.RESULT_FIELDS``); ``on_epoch`` receives per-epoch metrics. The registry of
objectives by name (``--objective``) is pipeline/objectives.py; the test aids are scalesearch/testing/.
"""
from __future__ import annotations

from scalesearch.model.scaling import ModelSpec


def proxy_objective(spec: ModelSpec, dataset, settings: dict, on_epoch) -> dict:
    """The real thing: a short training of the candidate on the dataset."""
    from scalesearch.training.proxy import proxy_config, train_proxy

    result = train_proxy(spec, dataset, proxy_config(settings), on_epoch=on_epoch).to_dict()
    result.pop("history")  # already reported epoch by epoch
    return result
