"""A whole run: its options and checks, the run folder's lock, the Ray runner, the order of the steps."""
