"""Measurements kept on disk between runs: a big network at full resolution takes seconds to
trace, and every run's report measures the same official B0–B7 again."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def _default_path() -> Path | None:
    setting = os.environ.get("SCALESEARCH_CACHE", "")
    if setting.lower() in ("off", "0", "no"):
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scalesearch" / "measurements.jsonl"


class DiskCache:
    """Append-only JSON lines; keyed by the architecture and the versions that could change a count."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, list] | None = None
        self.lock = threading.Lock()

    def _key(self, key: tuple) -> str:
        import fvcore
        import torch

        text = repr((key, torch.__version__, getattr(fvcore, "__version__", "?")))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _load(self) -> dict:
        if self.entries is None:
            self.entries = {}
            try:
                for line in self.path.read_text().splitlines():
                    try:
                        record = json.loads(line)
                        self.entries[record["key"]] = record["value"]
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut short by a crash: ignore it
            except OSError:
                pass
        return self.entries

    def get(self, key: tuple):
        if self.path is None:
            return None
        with self.lock:
            return self._load().get(self._key(key))

    def put(self, key: tuple, value: tuple) -> None:
        if self.path is None:
            return
        digest = self._key(key)
        with self.lock:
            self._load()[digest] = list(value)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a") as handle:
                    handle.write(json.dumps({"key": digest, "value": list(value)}) + "\n")
            except OSError:
                self.path = None  # a read-only home: keep working without the disk cache


disk_cache = DiskCache(_default_path())
