"""The archive's test world: an approved programme 130.C-0001 with run A on UT1/FORS2, an OB
executed in a visit, and the landing area and archive storage in temporary folders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from dataflow.accounts.models import Role
from observations.models import (
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    Visit,
    VisitState,
)
from proposals.models import CoInvestigator, ObservingRun, Proposal, ProposalStatus
from tests.archive.frames import START
from tests.archive.make_files import programme
from tests.factories import PeriodFactory, RunFactory, UserFactory


@pytest.fixture
def archive_in_tmp(settings: Any, tmp_path: Path) -> None:
    """Archive storage in the test's temporary folder."""
    settings.ARCHIVE_ROOT = tmp_path


@pytest.fixture
def pi() -> User:
    """A PI (with ``proposal``: of an approved programme, ``make_files.programme``)."""
    return UserFactory.create(username="pi")


@pytest.fixture
def proposal(pi: User) -> Proposal:
    return programme(pi)


@dataclass
class ArchiveWorld:
    pi: User
    coi: User
    stranger: User
    staff: User
    proposal: Proposal
    run: ObservingRun
    ob: ObservationBlock
    execution: Execution
    landing: Path
    root: Path

    @property
    def run_id(self) -> str:
        return f"{self.proposal.programme_id}({self.run.letter})"


@pytest.fixture
def storage(tmp_path: Path, settings: Any) -> tuple[Path, Path]:
    landing, root = tmp_path / "landing", tmp_path / "archive"
    landing.mkdir()
    root.mkdir()
    settings.RAW_DATA_LANDING = landing
    settings.ARCHIVE_ROOT = root
    return landing, root


def make_world(landing: Path, root: Path, *, proposal_type: str = "normal") -> ArchiveWorld:
    pi = UserFactory.create(username="pi")
    coi = UserFactory.create(username="coi")
    stranger = UserFactory.create(username="stranger")
    staff = UserFactory.create(username="archivist", roles=[Role.STAFF])
    period = PeriodFactory.create(number=130)
    run = RunFactory.create(proposal__period=period, proposal__pi=pi, letter="A")
    proposal = run.proposal
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.APPROVED,
        programme_number=1,
        programme_id="130.C-0001",
        proposal_type=proposal_type,
    )
    proposal.refresh_from_db()
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    folder = Container.objects.create(run=run, item_type=ItemType.FOLDER, name="130.C-0001(A)")
    ob = ObservationBlock.objects.create(
        run=run, container=folder, name="OB 1", status="C", executed=True
    )
    visit = Visit.objects.create(
        telescope=run.telescope,
        night=dt.date(2027, 3, 10),
        state=VisitState.DONE,
        started_at=START,
        ended_at=START + dt.timedelta(hours=1),
    )
    execution = Execution.objects.create(visit=visit, ob=ob, status_before="+", grade="A")
    return ArchiveWorld(pi, coi, stranger, staff, proposal, run, ob, execution, landing, root)


@pytest.fixture
def world(db: None, storage: tuple[Path, Path]) -> ArchiveWorld:
    return make_world(*storage)
