"""Test aids a run can be asked for by name (``--objective analytic``): never part of a real search."""
