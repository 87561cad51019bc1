"""Run scalesearch from a checkout: ``python cli.py run --budget 2x``."""
import sys

from scalesearch.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
