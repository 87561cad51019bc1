"""The one exception family the CLI turns into a one-line message and exit code 2."""


class InputError(ValueError):
    """Something the user gave (an option, a file, a folder) cannot be used."""
