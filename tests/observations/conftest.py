"""Phase 2 worlds: an approved proposal of ``astronomer`` (PI) with ``coi`` as accepted
co-investigator, one service-mode run (A) and one visitor-mode run (B) on UT1/FORS2, both
approved by ``staff`` through the review's service, in a period when their target is
observable; FORS2 has a small template set (an acquisition, two science templates, a
calibration; the imaging template's default exposure lasts an hour, so a default OB passes the
service-mode minimum) and an overhead model at ip_version "130.0". ``other_astronomer`` (from
tests/conftest.py) is an outsider."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from observations.models import Container, OverheadModel, TemplateSignature, TemplateType
from proposals.models import CoInvestigator, ObservingRun, Proposal, ProposalStatus, Target
from proposals.review.services import run_decide
from tests.factories import PeriodFactory, ProposalFactory, RunFactory, TargetFactory, UserFactory

IP_VERSION = "130.0"

SIGNATURES = [
    (
        "FORS2_img_acq",
        TemplateType.ACQUISITION,
        [
            {"name": "DET.DIT", "type": "number", "default": 5.0, "min": 0.5, "max": 60},
            {"name": "INS.FILT", "type": "string", "default": "R_SPECIAL",
             "allowed": ["R_SPECIAL", "I_BESS"]},
        ],
        {},
    ),
    (
        "FORS2_img_obs",
        TemplateType.SCIENCE,
        [
            {"name": "DET.DIT", "type": "number", "default": 3600.0, "min": 0.5, "max": 3600},
            {"name": "SEQ.NEXPO", "type": "integer", "default": 1, "min": 1, "max": 100},
            {"name": "INS.FILT", "type": "string", "default": None,
             "allowed": ["R_SPECIAL", "I_BESS", "B_HIGH"]},
            {"name": "SEQ.OFFSETS", "type": "list", "default": [0, 10], "min": -100, "max": 100},
            {"name": "DET.BINNING", "type": "boolean", "default": False},
        ],
        {"time": "DET.DIT", "count": ["SEQ.NEXPO"]},
    ),
    (
        "FORS2_spec_obs",
        TemplateType.SCIENCE,
        [{"name": "DET.DIT", "type": "number", "default": 600.0, "min": 1, "max": 3600}],
        {"time": "DET.DIT", "count": []},
    ),
    (
        "FORS2_cal_flat",
        TemplateType.CALIBRATION,
        [{"name": "SEQ.NEXPO", "type": "integer", "default": 5, "min": 1, "max": 20}],
        {},
    ),
]  # fmt: skip


@dataclass
class Phase2:
    pi: User
    coi: User
    staff: User
    outsider: User
    proposal: Proposal
    sm: ObservingRun
    vm: ObservingRun
    target: Target  # the runs' Phase 1 target

    def root(self, run: ObservingRun) -> Container:
        return Container.objects.get(run=run, parent__isnull=True)


def add_signatures(run: ObservingRun) -> None:
    for name, kind, parameters, exposure in SIGNATURES:
        TemplateSignature.objects.get_or_create(
            instrument=run.instrument,
            ip_version=IP_VERSION,
            name=name,
            defaults={"type": kind, "parameters": parameters, "exposure": exposure},
        )
    OverheadModel.objects.get_or_create(
        instrument=run.instrument,
        ip_version=IP_VERSION,
        defaults={"preset_s": 360.0, "acquisition_s": 120.0, "template_s": 60.0, "readout_s": 30.0},
    )


def observable_season(today: dt.date) -> dt.date:
    """The first 15 September at least a month ahead: NGC 253 (RA 0h47m) is then up all night
    at Paranal, whatever day the tests run."""
    start = dt.date(today.year, 9, 15)
    return start if start - today >= dt.timedelta(days=30) else start.replace(year=today.year + 1)


def reviewed_proposal(pi: User, number: int = 1) -> tuple[Proposal, ObservingRun, ObservingRun]:
    """A proposal under review with an SM run A (10 h) and a VM run B (1 night)."""
    start = observable_season(timezone.now().date())
    period = PeriodFactory.create(number=130, start=start, end=start + dt.timedelta(days=13))
    proposal = ProposalFactory.create(period=period, pi=pi)
    target = TargetFactory.create(
        proposal=proposal, name="NGC 253", ra_deg=11.888, dec_deg=-25.288, pm_ra_mas_yr=5.0
    )
    sm = RunFactory.create(proposal=proposal, letter="A", mode="SM", hours=10.0, targets=[target])
    vm = RunFactory.create(
        proposal=proposal, letter="B", mode="VM", hours=None, nights=1.0, targets=[target]
    )
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.UNDER_REVIEW,
        programme_number=number,
        programme_id=f"130.C-{number:04d}",
    )
    return Proposal.objects.get(pk=proposal.pk), sm, vm


@pytest.fixture
def coi(db: None) -> User:
    return UserFactory.create(username="carl", email="carl@example.org")


@pytest.fixture
def phase2(staff: User, astronomer: User, coi: User, other_astronomer: User) -> Phase2:
    proposal, sm, vm = reviewed_proposal(astronomer)
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=10.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    return Phase2(
        pi=astronomer,
        coi=coi,
        staff=staff,
        outsider=other_astronomer,
        proposal=proposal,
        sm=ObservingRun.objects.get(pk=sm.pk),
        vm=ObservingRun.objects.get(pk=vm.pk),
        target=proposal.targets.get(),
    )
