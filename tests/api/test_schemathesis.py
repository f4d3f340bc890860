"""Schemathesis over the whole OpenAPI schema, in-process, as the PI of seeded proposals.

Every operation of ``/api/schema/`` (so every endpoint added later too) gets ``MAX_EXAMPLES``
generated requests, valid and invalid, besides schemathesis' own boundary cases, with its path
ids pinned to real seeded objects, and four checks: no 5xx, every status code declared, the
declared content type, the declared response schema. Each request runs in a savepoint rolled
back afterwards, so every example starts from the same world (a DELETE or a submit does not
starve the examples after it). Runs in ``make test`` and so in ``.ci/run``; the end of the
session lists every operation that failed and how (``tests/conftest.py``).
"""

import datetime as dt
import io
import os
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.signals import got_request_exception, request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from rest_framework.authtoken.models import Token

from archive.models import ArchiveFile, Category, DownloadRequest, DownloadStatus
from dataflow.accounts.models import Role
from dataflow.observatory.models import Instrument, Telescope
from observations.models import (
    AbsoluteWindow,
    Container,
    Execution,
    FindingChart,
    ItemType,
    ObservationBlock,
    SiderealWindow,
    Template,
    TemplateSignature,
    TemplateType,
    Visit,
    VisitState,
    WeatherReading,
)
from observations.night import night_of
from proposals.models import (
    CoInvestigator,
    Figure,
    Period,
    Proposal,
    ProposalStatus,
)
from proposals.review.models import (
    Assignment,
    Conflict,
    LedgerEntry,
    LedgerKind,
    Panel,
    PanelMember,
    Review,
    RunDecision,
)
from scheduling.models import (
    JobStatus,
    LinkKind,
    RunLink,
    RunNight,
    RunPin,
    ScheduleJob,
    ScheduleVersion,
    TravelRequest,
)
from tests.conftest import SCHEMATHESIS_FAILURE
from tests.factories import (
    PeriodFactory,
    ProposalFactory,
    RunFactory,
    TargetFactory,
    UserFactory,
    complete_proposal,
)

# At least 30 generated requests per operation (plus schemathesis' boundary cases); more for a
# deeper search, e.g. DATAFLOW_SCHEMATHESIS_EXAMPLES=300 make test.
MAX_EXAMPLES = max(30, int(os.environ.get("DATAFLOW_SCHEMATHESIS_EXAMPLES", "30")))
SEED = 8  # any fixed value: the same requests on every run

# Fixed ids, so the path parameters are pinned before any database exists: every generated
# request names these real objects. Explicit primary keys far above what the sequences hand out
# in a test, so nothing created later collides with them.
TOKEN = "0123456789abcdef0123456789abcdef01234567"
DRAFT_ID = 7001
SUBMITTED_ID = 7002
TARGET_ID = 7101
RUN_ID = 7201
COI_ID = 7301
FIGURE_ID = 7401
PERIOD_NUMBER = 119
UT1_ID = 1  # from the paranal fixture
# Review: the PI also reviews a stranger's proposal under review (as a distributed reviewer
# would); staff's operations run with a staff token on a panel, a conflict and a run of it.
STAFF_TOKEN = "fedcba9876543210fedcba9876543210fedcba98"
UNDER_REVIEW_ID = 7901
REVIEW_RUN_ID = 7951
PANEL_ID = 7501
ASSIGNMENT_ID = 7601
CONFLICT_ID = 7701
STAFF_AUTH = {"Authorization": f"Bearer {STAFF_TOKEN}"}
# The long-term schedule: a running job of the period (a new one is refused with 409 before
# the period's problem is built, and it can be cancelled) and a stored version.
SCHEDULE_JOB_ID = 7801
SCHEDULE_VERSION_ID = 7851
# Visitors: the PI's approved proposal with a VM run that has accepted nights and a filed
# travel request (its team endpoint runs as the PI; the arrival list as staff).
APPROVED_ID = 7099
TRAVEL_RUN_ID = 7299
PIN_ID = 7871  # staff's pin of that run
LINKED_RUN_ID = 7298  # another approved VM run of that proposal
LINK_ID = 7872  # staff's link of the two runs
# Phase 2: the PI's approved proposal with an approved SM run whose tree has a root
# folder, a group and an OB with a template; a FORS2 template signature of an old instrument
# package version (not the current one, which the fixtures' signatures make).
PHASE2_PROPOSAL_ID = 7097
PHASE2_RUN_ID = 7297
PHASE2_ROOT_ID = 7261
PHASE2_OB_ID = 7271
PHASE2_IP_VERSION = "0.1"
PHASE2_TEMPLATE = "SEED_img_acq"
PHASE2_TEMPLATE_ID = 7281  # the OB's template
PHASE2_CHART_INDEX = 1  # the OB's finding chart
# The night: an approved SM run on UT1 whose group holds two accepted OBs (the ranking has
# candidates) and a weather reading there; a visit running on UT2 (read, complete, abort it).
NIGHT_PROPOSAL_ID = 7096
NIGHT_RUN_ID = 7296
NIGHT_VISIT_ID = 7981
UT2_ID = 2  # from the paranal fixture
# The archive (issue 13): a proprietary frame of the PI's Phase 2 programme with its bytes in
# archive storage, and the PI's prepared download request of it.
ARCHIVE_FILE_ID = 7991
DOWNLOAD_ID = 7995
# Review and schedule operations run as staff (the reviewer's own ones as the PI, their
# reviewer), and so do staff's Phase 2 reviews of an OB or a container.
STAFF_PATHS = re.compile(
    r"^/api/v1/(schedule/(?!runs/)|review/(?!assignments/(?!.*/move/$))"
    r"|phase2/(obs|containers)/[^/]+/(accept|send-back|short-waiver)/$|night/)"
)
CURRENT_ETAG = '"1"'  # both seeded proposals are at version 1

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "continue-on-failure": True,  # every distinct failure of an operation, not the first
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "generation": {
            "mode": "all",  # valid and invalid data
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        # Request bodies name the seeded world often enough to get past the input's shape.
        "dictionaries": {
            "periods": {"values": [PERIOD_NUMBER]},
            "telescopes": {"values": ["UT1", UT1_ID]},
            "instruments": {"values": ["FORS2", "KMOS", "UVES", 1]},
        },
        "parameters": {
            "body.period": {"dictionary": "periods", "probability": 0.5},
            "body.telescope": {"dictionary": "telescopes", "probability": 0.5},
            "body.instrument": {"dictionary": "instruments", "probability": 0.5},
            "path.id": DRAFT_ID,
            "path.target_id": TARGET_ID,
            "path.run_id": RUN_ID,
            "path.coi_id": COI_ID,
            "path.figure_id": FIGURE_ID,
            "path.number": PERIOD_NUMBER,
            "path.job_id": SCHEDULE_JOB_ID,
            "path.version_id": SCHEDULE_VERSION_ID,
            "path.pin_id": PIN_ID,
            "path.link_id": LINK_ID,
            "path.phase2_run_id": PHASE2_RUN_ID,
            "path.container_id": PHASE2_ROOT_ID,
            "path.ob_id": PHASE2_OB_ID,
            "path.instrument": "FORS2",
            "path.ip_version": PHASE2_IP_VERSION,
            "path.template_name": PHASE2_TEMPLATE,
            "path.template_id": PHASE2_TEMPLATE_ID,
            "path.chart_index": PHASE2_CHART_INDEX,
            "path.telescope": UT1_ID,
            "path.visit_id": NIGHT_VISIT_ID,
            "path.file_id": ARCHIVE_FILE_ID,
            "path.download_id": DOWNLOAD_ID,
        },
        "operations": [
            {"include-path-regex": "^/api/v1/telescopes/", "parameters": {"path.id": UT1_ID}},
            {"include-path-regex": "/withdraw/$", "parameters": {"path.id": SUBMITTED_ID}},
            {
                "include-path-regex": "^/api/v1/review/assignments/(?!.*/move/$)",
                "parameters": {"path.id": ASSIGNMENT_ID},
            },
            {
                "include-path-regex": "^/api/v1/review/assignments/.*/move/$",
                "parameters": {"path.id": ASSIGNMENT_ID},
            },
            {
                "include-path-regex": "^/api/v1/review/(panels|periods)/",
                "parameters": {"path.id": PANEL_ID},
            },
            {
                "include-path-regex": "^/api/v1/review/conflicts/",
                "parameters": {"path.id": CONFLICT_ID},
            },
            {
                "include-path-regex": "^/api/v1/review/proposals/",
                "parameters": {"path.id": UNDER_REVIEW_ID},
            },
            {
                "include-path-regex": "^/api/v1/review/runs/",
                "parameters": {"path.id": REVIEW_RUN_ID},
            },
            {
                "include-path-regex": "^/api/v1/schedule/runs/",
                "parameters": {"path.run_id": TRAVEL_RUN_ID},
            },
        ],
    }
)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def seed_world() -> None:
    """Paranal's telescopes, two periods, a PI with a full draft and a submitted proposal."""
    call_command("loaddata", "paranal", "instruments", verbosity=0)
    period = PeriodFactory.create(number=PERIOD_NUMBER)
    PeriodFactory.create(number=PERIOD_NUMBER - 1)
    pi = UserFactory.create(username="pi", email="pi@example.org")
    Token.objects.create(user=pi, key=TOKEN)
    coi_user = UserFactory.create(username="coi", email="coi@example.org")
    draft = complete_proposal(id=DRAFT_ID, pi=pi, period=period, title="Seeded draft")
    ut1 = Telescope.objects.get(pk=UT1_ID)
    target = TargetFactory.create(
        id=TARGET_ID, proposal=draft, name="NGC 253", ra_deg=11.888, dec_deg=-25.288
    )
    kmos = Instrument.objects.get(telescope=ut1, name="KMOS")
    RunFactory.create(
        id=RUN_ID, proposal=draft, letter="B", telescope=ut1, instrument=kmos, targets=[target]
    )
    CoInvestigator.objects.create(id=COI_ID, proposal=draft, user=coi_user, email=coi_user.email)
    CoInvestigator.objects.create(proposal=draft, email="invited@example.org")
    figure = Figure(id=FIGURE_ID, proposal=draft, image_format="png", caption="Finding chart")
    figure.image.save("chart.png", ContentFile(png_bytes()), save=True)
    complete_proposal(id=SUBMITTED_ID, pi=pi, period=period, title="Seeded submitted")
    Proposal.objects.filter(pk=SUBMITTED_ID).update(
        status=ProposalStatus.SUBMITTED, programme_number=1, programme_id="119.C-0001"
    )
    # Someone else's proposal: never reachable with the PI's token.
    ProposalFactory.create(period=period, pi=UserFactory.create(username="stranger"))
    seed_review(period, pi)
    version = seed_schedule(period)
    seed_travel(period, pi, version)
    seed_phase2(period, pi)
    seed_night(period, pi)
    seed_archive(pi)
    seeded = Proposal.objects.filter(pk__in=[DRAFT_ID, SUBMITTED_ID])
    assert {p.version for p in seeded} == {int(CURRENT_ETAG.strip('"'))}, "CURRENT_ETAG is stale"


def seed_review(period: Period, pi: User) -> None:
    """A stranger's proposal under review in a panel of category C: the PI reviews it (their
    draft review saved), a reviewer chairs the panel and is conflicted, staff hold a token."""
    staff = UserFactory.create(username="opc", roles=[Role.STAFF])
    Token.objects.create(user=staff, key=STAFF_TOKEN)
    chair = UserFactory.create(username="chair", roles=[Role.REVIEWER])
    proposal = ProposalFactory.create(
        id=UNDER_REVIEW_ID, pi=UserFactory.create(username="rival"), period=period
    )
    target = TargetFactory.create(proposal=proposal, name="LMC field")
    RunFactory.create(id=REVIEW_RUN_ID, proposal=proposal, targets=[target])
    Proposal.objects.filter(pk=UNDER_REVIEW_ID).update(
        status=ProposalStatus.UNDER_REVIEW, programme_number=2, programme_id="119.C-0002"
    )
    proposal.final_pdf.save("119.C-0002.pdf", ContentFile(b"%PDF-1.4 seeded"), save=False)
    Proposal.objects.filter(pk=UNDER_REVIEW_ID).update(final_pdf=proposal.final_pdf.name)
    panel = Panel.objects.create(
        id=PANEL_ID,
        period=period,
        name="C1",
        category="C",
        chair=chair,
        deadline=timezone.now() + dt.timedelta(days=14),
    )
    PanelMember.objects.create(panel=panel, user=chair)
    assignment = Assignment.objects.create(
        id=ASSIGNMENT_ID, proposal=proposal, reviewer=pi, panel=panel, role="primary"
    )
    Review.objects.create(assignment=assignment, grade=Decimal("2.0"), comment_to_pi="Draft.")
    Conflict.objects.create(
        id=CONFLICT_ID, proposal=proposal, reviewer=chair, kind="institute", reason="Same place."
    )


def seed_schedule(period: Period) -> ScheduleVersion:
    """A running solve job of the period and a version stored by an earlier one."""
    ScheduleJob.objects.create(id=SCHEDULE_JOB_ID, period=period, status=JobStatus.RUNNING)
    done = ScheduleJob.objects.create(period=period, status=JobStatus.DONE)
    return ScheduleVersion.objects.create(
        id=SCHEDULE_VERSION_ID,
        period=period,
        job=done,
        number=1,
        solver="greedy",
        status="heuristic",
        objective=0.0,
    )


def seed_travel(period: Period, pi: User, version: ScheduleVersion) -> None:
    """The PI's approved VM run with two accepted nights a month ahead, its travel request, a
    pin of it and a link to another approved VM run."""
    proposal = complete_proposal(id=APPROVED_ID, pi=pi, period=period, title="Seeded approved")
    run = RunFactory.create(id=TRAVEL_RUN_ID, proposal=proposal, letter="V", mode="VM", nights=2)
    Proposal.objects.filter(pk=APPROVED_ID).update(
        status=ProposalStatus.APPROVED, programme_number=3, programme_id="119.C-0003"
    )
    RunDecision.objects.create(run=run, approved=True, allocated_nights=2)
    first = timezone.localdate() + dt.timedelta(days=30)
    for day in (first, first + dt.timedelta(days=1)):
        RunNight.objects.create(run=run, date=day, version=version)
    TravelRequest.objects.create(
        run=run,
        submitted_by=pi,
        travellers=["Ada Lovelace"],
        arrival=first - dt.timedelta(days=1),
        departure=first + dt.timedelta(days=2),
    )
    RunPin.objects.create(id=PIN_ID, run=run, start=first)
    other = RunFactory.create(id=LINKED_RUN_ID, proposal=proposal, letter="W", mode="VM", nights=1)
    RunDecision.objects.create(run=other, approved=True, allocated_nights=1)
    RunLink.objects.create(
        id=LINK_ID, first=run, second=other, kind=LinkKind.APART, min_days=2, max_days=9
    )


def seed_phase2(period: Period, pi: User) -> None:
    """The PI's approved proposal with an approved SM run on FORS2: its root folder, a group
    with an OB, the OB with a template, windows and a finding chart."""
    proposal = ProposalFactory.create(id=PHASE2_PROPOSAL_ID, pi=pi, period=period)
    ut1 = Telescope.objects.get(pk=UT1_ID)
    fors2 = Instrument.objects.get(telescope=ut1, name="FORS2")
    run = RunFactory.create(
        id=PHASE2_RUN_ID, proposal=proposal, letter="A", telescope=ut1, instrument=fors2
    )
    Proposal.objects.filter(pk=PHASE2_PROPOSAL_ID).update(
        status=ProposalStatus.APPROVED, programme_number=4, programme_id="119.C-0004"
    )
    RunDecision.objects.create(run=run, approved=True, rank_class="A")
    root = Container.objects.create(
        id=PHASE2_ROOT_ID, run=run, item_type=ItemType.FOLDER, name="119.C-0004(A)"
    )
    group = Container.objects.create(run=run, parent=root, item_type=ItemType.GROUP, name="G")
    ob = ObservationBlock.objects.create(
        id=PHASE2_OB_ID, run=run, container=group, name="OB 1", ra_deg=11.888, dec_deg=-25.288
    )
    signature, _ = TemplateSignature.objects.get_or_create(
        instrument=fors2,
        ip_version=PHASE2_IP_VERSION,
        name=PHASE2_TEMPLATE,
        defaults={
            "type": TemplateType.ACQUISITION,
            "parameters": [
                {"name": "DET.DIT", "type": "number", "default": 5.0, "min": 0.5, "max": 60},
                {"name": "INS.FILT", "type": "string", "allowed": ["R_SPECIAL", "I_BESS"]},
            ],
        },
    )
    Template.objects.create(
        id=PHASE2_TEMPLATE_ID, ob=ob, signature=signature, values={"DET.DIT": 10.0}
    )
    start = timezone.now() + dt.timedelta(days=40)
    AbsoluteWindow.objects.create(ob=ob, start=start, end=start + dt.timedelta(days=1))
    SiderealWindow.objects.create(ob=ob, start_min=60, end_min=1440)
    FindingChart.objects.create(ob=ob, name="chart.jpg", content=b"\xff\xd8", size=2)
    seed_ob_executions(ob)


def seed_ob_executions(ob: ObservationBlock) -> None:
    """Issue 12: the OB executed twice, graded C on one night and aborted the next (its
    executions listed by ``phase2/obs/{id}/executions/``); so it is marked executed."""
    ObservationBlock.objects.filter(pk=ob.pk).update(executed=True)
    start = timezone.now() - dt.timedelta(days=2)
    for day, grade in ((0, "C"), (1, "")):
        at = start + dt.timedelta(days=day)
        visit = Visit.objects.create(
            telescope_id=UT1_ID,
            night=at.date(),
            state=VisitState.DONE if grade else VisitState.ABORTED,
            started_at=at,
            ended_at=at + dt.timedelta(hours=1),
            seeing_arcsec=0.9,
            transparency="Clear",
        )
        Execution.objects.create(
            visit=visit,
            ob=ob,
            status_before="+",
            ended_at=visit.ended_at,
            grade=grade,
            aborted=not grade,
            reason="" if grade else "Wind.",
            charged_s=3600,
        )


def seed_night(period: Period, pi: User) -> None:
    """The PI's approved proposal with an SM run on UT1 (ten hours allocated) whose group has
    two accepted OBs on NGC 253, a weather reading at UT1, and an SM run on UT2 whose accepted
    OB runs in a visit started by staff ten minutes ago."""
    staff = User.objects.get(username="opc")
    proposal = ProposalFactory.create(id=NIGHT_PROPOSAL_ID, pi=pi, period=period)
    Proposal.objects.filter(pk=NIGHT_PROPOSAL_ID).update(
        status=ProposalStatus.APPROVED, programme_number=5, programme_id="119.C-0005"
    )
    now = timezone.now()
    obs = []
    for run_id, telescope_id, instrument, letter, count in (
        (NIGHT_RUN_ID, UT1_ID, "FORS2", "A", 2),
        (None, UT2_ID, "UVES", "B", 1),
    ):
        telescope = Telescope.objects.get(pk=telescope_id)
        run = RunFactory.create(
            id=run_id,
            proposal=proposal,
            letter=letter,
            telescope=telescope,
            instrument=Instrument.objects.get(telescope=telescope, name=instrument),
        )
        RunDecision.objects.create(run=run, approved=True, rank_class="A")
        LedgerEntry.objects.create(run=run, kind=LedgerKind.ALLOCATION, seconds=36_000)
        root = Container.objects.create(run=run, item_type=ItemType.FOLDER, name=str(run))
        group = Container.objects.create(run=run, parent=root, item_type=ItemType.GROUP, name="G")
        obs += [
            ObservationBlock.objects.create(
                run=run, container=group, name=f"{letter} {i}", position=i, status="+",
                ra_deg=11.888, dec_deg=-25.288, execution_time_s=3600.0, contribution=0.5,
                min_moon_distance_deg=0.0,
            )
            for i in range(count)
        ]  # fmt: skip
    WeatherReading.objects.create(
        telescope_id=UT1_ID, at=now, source="station", seeing_arcsec=0.8, transparency="Clear"
    )
    running = obs[-1]
    started = now - dt.timedelta(minutes=10)
    ut2 = Telescope.objects.select_related("site").get(pk=UT2_ID)
    visit = Visit.objects.create(
        id=NIGHT_VISIT_ID,
        telescope=ut2,
        night=night_of(ut2.site.longitude_deg, started),
        started_at=started,
        operator=staff,
        seeing_arcsec=0.8,
    )
    Execution.objects.create(visit=visit, ob=running, status_before=running.status)
    ObservationBlock.objects.filter(pk=running.pk).update(status="S", executed=True)


def seed_archive(pi: User) -> None:
    """A proprietary FORS2 frame of the PI's Phase 2 programme, its bytes in archive storage,
    and the PI's prepared download request of it."""
    proposal = Proposal.objects.get(pk=PHASE2_PROPOSAL_ID)
    frame = ArchiveFile.objects.create(
        id=ARCHIVE_FILE_ID,
        dp_id="FORS2.2027-03-11T04:05:06.789",
        arcfile="FORS2.2027-03-11T04:05:06.789.fits",
        category=Category.SCIENCE,
        instrument_name="FORS2",
        object_name="NGC 253",
        ra_deg=11.888,
        dec_deg=-25.288,
        date_obs=dt.datetime(2027, 3, 11, 4, 5, 6, tzinfo=dt.UTC),
        t_min=61475.17,
        t_max=61475.18,
        prog_id="119.C-0004(A)",
        proposal=proposal,
        sha256="0" * 64,
        size_bytes=2880,
        storage_path="files/schemathesis/FORS2.2027-03-11T04:05:06.789.fits",
        header_text="SIMPLE  =                    T",
        release_date=timezone.localdate() + dt.timedelta(days=365),
    )
    path = Path(django_settings.ARCHIVE_ROOT) / frame.storage_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame.header_text.ljust(2880).encode())
    request = DownloadRequest.objects.create(
        id=DOWNLOAD_ID, user=pi, status=DownloadStatus.READY, done=1, total=1
    )
    request.files.set([frame])


APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP, config=CONFIG)


@schema.hook
def flatmap_headers(context: Any, headers: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """Most generated If-Match values are stale, and a stale one stops every write at its 412
    before the input is read: send the seeded proposals' current ETag as often."""
    if not headers or "If-Match" not in headers:
        return st.just(headers)
    return st.sampled_from([CURRENT_ETAG, headers["If-Match"]]).map(
        lambda value: {**headers, "If-Match": value}
    )


@pytest.fixture
def world(db: None) -> None:
    seed_world()


@pytest.fixture
def in_process() -> Iterator[None]:
    """Serve requests like Django's test client: Django closes "obsolete" connections at the
    end of every request, which inside the test's transaction would close or poison it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """Tracebacks of the exceptions behind 500 answers, printed next to schemathesis' report."""
    seen: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        seen.append(f"{request.method} {request.get_full_path()}\n{traceback.format_exc()}")

    got_request_exception.connect(record, weak=False)
    yield seen
    got_request_exception.disconnect(record)


@dataclass
class Answers:
    """The statuses one operation answered, over all its examples."""

    label: str = ""
    statuses: Counter[int] = field(default_factory=Counter)
    failed: bool = False


@pytest.fixture
def answers() -> Iterator[Answers]:
    """After the last example: the pinned ids did name seeded objects. If every answer were a
    401 or a 404 the run would pass without ever reaching the code behind the operation."""
    seen = Answers()
    yield seen
    if seen.statuses and not seen.failed:
        assert set(seen.statuses) - {401, 404}, (
            f"{seen.label}: every answer was 401 or 404 ({dict(seen.statuses)}): the path ids "
            "pinned in CONFIG name no seeded object, or the token is not the seeded PI's."
        )


def summarize(node: pytest.Item, label: str, failure: BaseException) -> None:
    """One line per distinct failure, for the summary at the end of the session (conftest)."""
    found = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
    for item in found:
        code = getattr(item, "code", type(item).__name__)
        title = getattr(item, "title", str(item).splitlines()[0] if str(item) else "")
        node.user_properties.append((SCHEMATHESIS_FAILURE, (label, f"{code} {title}")))


@schema.parametrize()
# The fixtures are set up once per operation on purpose: the savepoint resets every example.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_api_operation_conforms_to_its_schema(
    case: schemathesis.Case,
    world: None,
    in_process: None,
    server_errors: list[str],
    answers: Answers,
    request: pytest.FixtureRequest,
) -> None:
    answers.label = case.operation.label
    savepoint = transaction.savepoint()
    try:
        response = case.call(headers=STAFF_AUTH if STAFF_PATHS.match(case.path) else None)
        answers.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis raises a group of failures
        answers.failed = True
        summarize(request.node, case.operation.label, failure)
        if server_errors:
            print("\nServer-side traceback of the last 500:\n" + server_errors[-1])
        raise
    finally:
        transaction.savepoint_rollback(savepoint)
        server_errors.clear()
