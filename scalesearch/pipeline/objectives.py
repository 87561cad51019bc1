"""The objectives a run can train by name (``--objective``): the proxy training, and the analytic test aid."""
from __future__ import annotations

from scalesearch.testing.analytic import analytic_objective
from scalesearch.training.objectives import proxy_objective

OBJECTIVES = {"proxy": proxy_objective, "analytic": analytic_objective}
