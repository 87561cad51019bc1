"""A whole run: its options and checks, what they prepare, the run folder's lock, the Ray session and runner, the
stages after the search, the order of the steps."""
