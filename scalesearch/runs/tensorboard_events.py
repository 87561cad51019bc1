"""``--tensorboard DIR``: each training's learning curve (runs/learning_curves.py) as TensorBoard event files too,
one TensorBoard run per training, as Ray Tune and timm lay them out: ``DIR/STAGE/NETWORK/seedK``, so TensorBoard
lists a network's seeds together and its run filter picks a stage or a network (``search/resolution-only``).

Tags, each by epoch: ``validation/accuracy``, ``validation/loss``, ``train/loss``, ``epoch/seconds``.

A training's run is written whole in a hidden folder beside it and then moved into place, replacing any earlier
one of the same name: a training trained again after a kill leaves one run, not two sets of points. The
learning_curves.csv of the run folder stays the record; a DIR that lacks a recorded training's run (a run resumed
with --tensorboard added, a DIR emptied) gets it when the next stage starts.

Needs the ``tensorboard`` package (``pip install 'scalesearch[tensorboard]'``); without it ``--tensorboard`` is
refused before any work (``check_logdir``)."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from scalesearch.foundation.errors import InputError
from scalesearch.runs.learning_curves import LearningCurve

TAGS = (("validation/accuracy", "accuracy"), ("validation/loss", "loss"), ("train/loss", "train_loss"),
        ("epoch/seconds", "seconds"))
EVENTS = "events.out.tfevents.*"  # what a run folder holds once written (TensorBoard's file names)
_GREEK = {"α": "a", "β": "b", "γ": "g", "φ": "phi", "=": "", "×": "x"}


def check_logdir(logdir: str | Path) -> Path:
    """``logdir`` as an absolute path a run can write TensorBoard runs into; one line (InputError) where it cannot:
    no tensorboard package, a file in the way, or a folder this user cannot write. Touches nothing on disk."""
    try:
        import tensorboard  # noqa: F401  (only whether it is there; the writer is imported when it writes)
    except ImportError:
        raise InputError("--tensorboard needs the tensorboard package, which is not installed: "
                         "pip install 'scalesearch[tensorboard]' (or pip install tensorboard)") from None
    path = Path(logdir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InputError(f"--tensorboard {logdir}: {path} is a file, not a folder")
    existing = next(parent for parent in (path, *path.parents) if parent.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--tensorboard {logdir}: cannot create or write {path} ({existing} is not writable)")
    return path


def run_name(curve: LearningCurve) -> str:
    """The TensorBoard run of ``curve``: STAGE/NETWORK/seedK, NETWORK in letters a file name keeps
    (``resolution-only (α=1.000 β=1.000 γ=1.882)`` → ``resolution-only_a1.000_b1.000_g1.882``)."""
    network = "".join(_GREEK.get(character, character) for character in curve.network)
    network = re.sub(r"[^A-Za-z0-9.+-]+", "_", network).strip("_.") or "network"
    return f"{curve.stage}/{network}/seed{curve.seed}"


class TensorBoardRuns:
    """Writes learning curves as TensorBoard runs under one folder."""

    def __init__(self, logdir: str | Path):
        self.logdir = Path(logdir)

    def folder(self, curve: LearningCurve) -> Path:
        return self.logdir / run_name(curve)

    def write(self, curve: LearningCurve) -> Path:
        """``curve`` as the run of its training, replacing an earlier one of the same name."""
        from torch.utils.tensorboard import SummaryWriter

        final = self.folder(curve)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            writer = SummaryWriter(log_dir=str(staging))
            try:
                for epoch in curve.epochs:
                    for tag, field in TAGS:
                        value = getattr(epoch, field)
                        if value is not None:
                            writer.add_scalar(tag, value, global_step=epoch.epoch)
            finally:
                writer.close()
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def write_missing(self, curves: list[LearningCurve]) -> int:
        """Writes every curve whose run is not in the folder yet; how many it wrote."""
        missing = [curve for curve in curves if not any(self.folder(curve).glob(EVENTS))]
        for curve in missing:
            self.write(curve)
        return len(missing)
