"""Whole or not at all: every file scalesearch writes goes to a temporary file in the same folder, then
``os.replace`` puts it in place in one step, so a reader (or a run killed mid-write, or a full disk) never
sees half a file. The one place this is written (docs/design.md: one owner per rule).

No fsync, as before: a crash of the process is covered, a power cut of the machine is not."""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a path (pandas, numpy, pickle); renamed onto
    ``path`` when the block ends, deleted when it raises. The name is hidden (``.<name>.…tmp``) and unique,
    so two processes writing the same file (a shared cache) never write into each other's temporary file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a full disk gets its space back
        raise


def write_atomically(path: str | Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    """``data`` written to ``path`` whole or not at all (text in ``encoding``)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if isinstance(data, bytes):
            temporary.write_bytes(data)
        else:
            temporary.write_text(data, encoding=encoding)
    return path
