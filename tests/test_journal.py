"""study.journal: Optuna's format, one write per record, one fsync per recorded training (study/journal.py)."""
from __future__ import annotations

import os

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from scalesearch.foundation.run_files import STUDY_FILE
from scalesearch.study.persistence import STUDY_NAME
from scalesearch.study.proposal import Proposal
from tests.helpers import make_study


def _propose(study) -> Proposal:
    while True:
        proposal = study.propose()
        if isinstance(proposal, Proposal):
            return proposal


def test_proposals_are_not_fsynced_and_each_recorded_training_is_once(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    # os.fsync itself, so that Optuna's own backend (an fsync per record) would be counted too.
    monkeypatch.setattr(os, "fsync", lambda descriptor: synced.append(descriptor) or real(descriptor))
    study = make_study(tmp_path, references=False, trials=3)
    proposals = [_propose(study) for _ in range(2)]
    assert synced == []  # about twenty records each, none fsynced
    study.complete(proposals[0].trial, {"accuracy": 0.5})
    assert len(synced) == 1
    study.fail(proposals[1].trial, "RuntimeError: boom")
    assert len(synced) == 2


def test_the_journal_reads_back_with_optunas_own_backend(tmp_path):
    study = make_study(tmp_path, references=False, trials=2)
    proposal = _propose(study)
    study.complete(proposal.trial, {"accuracy": 0.625})
    # What optuna-dashboard or a user's script would do with study.journal:
    loaded = optuna.load_study(study_name=STUDY_NAME, storage=JournalStorage(JournalFileBackend(str(tmp_path / STUDY_FILE))))
    trial = next(t for t in loaded.trials if t.number == proposal.trial)
    assert trial.value == 0.625 and trial.user_attrs["status"] == "complete"
    assert trial.user_attrs["architecture"] == study.table().set_index("trial").loc[proposal.trial, "architecture"]
