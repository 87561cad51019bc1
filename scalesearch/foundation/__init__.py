"""What every layer may import: errors, statuses, atomic writes, number formatting, the results table's columns.

Nothing here imports the rest of the package (docs/design.md §2)."""
