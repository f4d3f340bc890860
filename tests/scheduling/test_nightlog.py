"""The night log of a telescope (``scheduling.nightlog``, ``scheduling.views_nightlog``): its
page, CSV and PDF carry the night's executions, weather and notes with their totals in integer
seconds; operators add lines through its form and close the night, staff refund an execution;
only operators and staff read it; it costs the same queries whatever the night holds.

The world is made through the services: accepted OBs of an approved service-mode run (the
Phase 2 world of ``tests/observations/conftest.py``), executed by an operator."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from archive.models import ArchiveFile
from dataflow.accounts.models import Role
from observations import night
from observations.models import Execution, NightNote, ObservationBlock, Visit
from proposals.models import CoInvestigator, ObservingRun
from proposals.review.models import LedgerEntry, LedgerKind
from proposals.review.services import run_decide
from tests.factories import UserFactory
from tests.observations.conftest import Phase2, add_signatures, reviewed_proposal
from tests.observations.test_night import accepted_ob

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


def phase2_world() -> Phase2:
    """The Phase 2 world of ``tests/observations/conftest.py`` (its fixture, as a function)."""
    staff = UserFactory.create(username="staff", roles=[Role.STAFF])
    pi = UserFactory.create(username="ada", email="ada@example.org")
    coi = UserFactory.create(username="carl", email="carl@example.org")
    outsider = UserFactory.create(username="bob", email="bob@example.org")
    proposal, sm, vm = reviewed_proposal(pi)
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=10.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    proposal.refresh_from_db()
    return Phase2(
        pi=pi,
        coi=coi,
        staff=staff,
        outsider=outsider,
        proposal=proposal,
        sm=ObservingRun.objects.get(pk=sm.pk),
        vm=ObservingRun.objects.get(pk=vm.pk),
        target=proposal.targets.get(),
    )


@dataclass
class NightWorld:
    phase2: Phase2
    operator: User
    telescope_id: int
    night: dt.date
    evening: dt.datetime  # 23:00 UTC of the night's evening date: dark at Paranal
    obs: list[ObservationBlock]


def night_world(n_obs: int = 3) -> NightWorld:
    """``n_obs`` accepted OBs (an hour's exposure each) and an operator."""
    phase2 = phase2_world()
    operator = UserFactory.create(username="nico", first_name="Nico", roles=[Role.OPERATOR])
    root = phase2.root(phase2.sm)
    obs = [accepted_ob(phase2, root, f"OB {k}") for k in range(n_obs)]
    first = phase2.proposal.period.start
    return NightWorld(
        phase2=phase2,
        operator=operator,
        telescope_id=phase2.sm.telescope_id,
        night=first,
        evening=dt.datetime.combine(first, dt.time(23), tzinfo=dt.UTC),
        obs=obs,
    )


def executed_night(world: NightWorld) -> dict[str, Any]:
    """The night: a weather reading; OB 0 graded A, OB 1 aborted after 10 min, OB 2 graded C;
    an hour lost to weather and a comment."""
    t, op = world.evening, world.operator
    night.weather_post(
        telescope_id=world.telescope_id,
        data=night.ConditionsData(
            seeing_arcsec=0.7,
            transparency="Clear",
            wind_speed_ms=5.5,
            wind_direction_deg=270.0,
            water_vapour_mm=2.5,
        ),
        actor=op,
        source="station",
        at=t,
    )
    a = night.visit_start(telescope_id=world.telescope_id, ob_id=world.obs[0].pk, actor=op, at=t)
    night.visit_complete(visit_id=a.pk, grade="A", actor=op, comment="Fine.", at=t + HOUR)
    b = night.visit_start(
        telescope_id=world.telescope_id, ob_id=world.obs[1].pk, actor=op, at=t + 2 * HOUR
    )
    night.visit_abort(
        visit_id=b.pk,
        reason="Humidity above 90 %.",
        actor=op,
        at=t + 2 * HOUR + dt.timedelta(minutes=10),
    )
    c = night.visit_start(
        telescope_id=world.telescope_id, ob_id=world.obs[2].pk, actor=op, at=t + 4 * HOUR
    )
    night.visit_complete(visit_id=c.pk, grade="C", actor=op, at=t + 5 * HOUR)
    night.night_note_add(
        telescope_id=world.telescope_id,
        kind=NightNote.Kind.WEATHER,
        actor=op,
        lost_s=3600,
        text="Humidity: dome closed.",
        night=world.night,
        at=t + 3 * HOUR,
    )
    night.night_note_add(
        telescope_id=world.telescope_id,
        kind=NightNote.Kind.COMMENT,
        actor=op,
        text="Guide camera restarted once.",
        night=world.night,
        at=t + 6 * HOUR,
    )
    return {"a": a, "b": b, "c": c}


def log_url(world: NightWorld, name: str = "log") -> str:
    return reverse(
        f"nightlog:{name}", kwargs={"telescope": world.telescope_id, "night": world.night}
    )


def client(user: User | None) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def charged(ob: ObservationBlock) -> int:
    return night.charge_seconds(ob.execution_time_s)


# --------------------------------------------------------------------------------------------
# Contents and totals
# --------------------------------------------------------------------------------------------


def test_the_log_holds_the_nights_executions_weather_notes_and_totals_in_seconds() -> None:
    # given a night with two graded executions, an abort after 10 minutes and two notes
    world = night_world()
    executed_night(world)
    # when an operator opens the night log
    response = client(world.operator).get(log_url(world))
    # then it lists each execution with its grade, outcome, conditions, operator, comment
    assert response.status_code == 200
    log = response.context["log"]
    rows = {e.ob_id: e for e in log.executions}
    first, aborted, repeat = (rows[ob.pk] for ob in world.obs)
    assert (first.grade, first.outcome, first.comment) == ("A", "completed", "Fine.")
    assert (aborted.outcome, aborted.reason) == ("aborted", "Humidity above 90 %.")
    assert (repeat.grade, repeat.outcome) == ("C", "must repeat")
    assert first.conditions.seeing_arcsec == 0.7 and first.conditions.transparency == "Clear"
    assert first.operator == world.operator.get_full_name()
    # and the charges: each graded OB its execution time, the abort its 600 s elapsed
    assert first.charged_s == charged(world.obs[0])
    assert repeat.charged_s == charged(world.obs[2])
    assert aborted.charged_s == 600
    # and the totals: executed = the visits' durations, charged, lost to weather
    totals = log.totals
    assert totals.executions == 3
    assert totals.executed_s == 3600 + 600 + 3600
    assert totals.charged_s == first.charged_s + 600 + repeat.charged_s
    assert (totals.lost_weather_s, totals.lost_technical_s, totals.lost_s) == (3600, 0, 3600)
    # and the page shows them
    html = response.content.decode()
    for text in (
        "OB 0",
        "Humidity above 90 %.",
        "must repeat",
        "seeing 0.70″, Clear, wind 5.5 m/s from 270°, PWV 2.5 mm",
        "Humidity: dome closed.",
        "Guide camera restarted once.",
        f'id="total-charged">{night_hms(totals.charged_s)}<',
        'id="total-lost-weather">1:00:00<',
        'id="total-executed">2:10:00<',
    ):
        assert text in html, text


def night_hms(seconds: int) -> str:
    from scheduling.nightlog import hms

    return hms(seconds)


def test_the_log_shows_only_its_telescopes_night() -> None:
    # given a night's executions
    world = night_world()
    executed_night(world)
    # when the log of the next night is opened
    next_night = world.night + dt.timedelta(days=1)
    url = reverse("nightlog:log", kwargs={"telescope": world.telescope_id, "night": next_night})
    log = client(world.operator).get(url).context["log"]
    # then it is empty
    assert (log.executions, log.weather, log.notes) == ([], [], [])
    assert log.totals.charged_s == 0


def test_the_csv_has_a_line_per_execution_reading_and_note_in_time_order_then_the_totals() -> None:
    # given a night's log
    world = night_world()
    executed_night(world)
    # when an operator downloads it as CSV
    response = client(world.operator).get(log_url(world, "log_csv"))
    # then it is a CSV attachment whose lines follow the night
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["line"] for r in rows] == [
        "weather",
        "execution",
        "execution",
        "weather",  # the loss, logged at +3 h
        "execution",
        "comment",
        "total",
    ]
    first = rows[1]
    assert (first["ob_id"], first["grade"], first["outcome"]) == (
        str(world.obs[0].pk),
        "A",
        "completed",
    )
    assert first["seeing_arcsec"] == "0.70" and first["transparency"] == "Clear"
    assert first["charged_s"] == str(charged(world.obs[0]))
    assert rows[2]["outcome"] == "aborted" and rows[2]["charged_s"] == "600"
    assert rows[2]["comment"] == "Humidity above 90 %."
    assert rows[3]["lost_s"] == "3600" and rows[3]["comment"] == "Humidity: dome closed."
    total = rows[-1]
    assert total["charged_s"] == str(charged(world.obs[0]) + 600 + charged(world.obs[2]))
    assert (total["refunded_s"], total["lost_s"]) == ("0", "3600")


def test_the_pdf_carries_the_executions_notes_and_totals() -> None:
    # given a night's log
    world = night_world()
    executed_night(world)
    # when an operator opens its PDF
    response = client(world.operator).get(log_url(world, "log_pdf"))
    # then it is a PDF whose text names the night, the executions, the losses and the totals
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(response.content)).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)
    telescope = world.phase2.sm.telescope.name
    assert f"Night log {telescope}, night of {world.night:%Y-%m-%d}" in text
    for needle in (
        "OB 0",
        "must repeat",
        "Humidity above 90 %.",
        "Humidity: dome closed.",
        "Lost to weather 1:00:00 3600 s",
        f"Charged {night_hms(charged(world.obs[0]) + 600 + charged(world.obs[2]))}",
    ):
        assert needle in text, needle


# --------------------------------------------------------------------------------------------
# The forms
# --------------------------------------------------------------------------------------------


def test_an_operator_logs_time_lost_to_a_technical_fault_through_the_form() -> None:
    # given a night's log
    world = night_world()
    executed_night(world)
    # when the operator adds 20 minutes lost to a technical fault
    response = client(world.operator).post(
        log_url(world, "note_add"),
        {"kind": "technical", "lost_s": "1200", "text": "M2 hexapod fault."},
    )
    # then the line is in the log, and the totals count it
    assert response.status_code == 302 and response["Location"].endswith("#notes")
    note = NightNote.objects.get(kind="technical")
    assert (note.lost_s, note.text, note.night, note.author) == (
        1200,
        "M2 hexapod fault.",
        world.night,
        world.operator,
    )
    log = client(world.operator).get(log_url(world)).context["log"]
    assert (log.totals.lost_technical_s, log.totals.lost_s) == (1200, 4800)


def test_a_loss_without_seconds_comes_back_with_the_services_error_and_writes_nothing() -> None:
    # given a night's log
    world = night_world()
    executed_night(world)
    before = NightNote.objects.count()
    # when the operator logs weather without saying how long
    response = client(world.operator).post(
        log_url(world, "note_add"), {"kind": "weather", "lost_s": "", "text": "Clouds."}
    )
    # then the page comes back with the error on the field, and nothing is written
    assert response.status_code == 200
    assert response.context["note_form"].errors["lost_s"] == ["Say how many seconds were lost."]
    assert NightNote.objects.count() == before


def test_staff_refund_an_execution_from_the_log_as_a_ledger_entry() -> None:
    # given a night with a graded execution
    world = night_world()
    visits = executed_night(world)
    execution = Execution.objects.get(visit=visits["a"])
    # when staff refund 900 s of it
    response = client(world.phase2.staff).post(
        log_url(world, "refund"),
        {"execution_id": execution.pk, "seconds": "900", "reason": "Dome shutter stuck."},
    )
    # then the ledger has the refund, and the log shows it in its totals
    assert response.status_code == 302
    refund = LedgerEntry.objects.get(kind=LedgerKind.REFUND)
    assert (refund.seconds, refund.run_id) == (900, world.phase2.sm.pk)
    log = client(world.phase2.staff).get(log_url(world)).context["log"]
    row = next(e for e in log.executions if e.execution_id == execution.pk)
    assert row.refunded_s == 900 and not row.refundable
    assert log.totals.refunded_s == 900
    assert log.totals.net_charged_s == log.totals.charged_s - 900
    # and a second refund of it is refused on the page, nothing written
    again = client(world.phase2.staff).post(
        log_url(world, "refund"), {"execution_id": execution.pk, "reason": "Twice."}
    )
    assert again.status_code == 200
    assert "refunded already" in again.content.decode()
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFUND).count() == 1


def test_only_staff_refund_operators_are_refused() -> None:
    # given a night with a graded execution
    world = night_world()
    visits = executed_night(world)
    execution = Execution.objects.get(visit=visits["a"])
    # when the operator tries to refund it
    response = client(world.operator).post(
        log_url(world, "refund"), {"execution_id": execution.pk, "reason": "Mine."}
    )
    # then 403, nothing written, and the operator's page has no refund form
    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists()
    page = client(world.operator).get(log_url(world)).content.decode()
    assert f'id="refund-{execution.pk}"' not in page
    assert (
        f'id="refund-{execution.pk}"'
        in client(world.phase2.staff).get(log_url(world)).content.decode()
    )


def test_a_refund_of_an_execution_of_another_night_is_refused_on_the_form() -> None:
    # given a night with a graded execution
    world = night_world()
    visits = executed_night(world)
    execution = Execution.objects.get(visit=visits["a"])
    # when staff post its refund on the log of the next night
    url = reverse(
        "nightlog:refund",
        kwargs={"telescope": world.telescope_id, "night": world.night + dt.timedelta(days=1)},
    )
    response = client(world.phase2.staff).post(
        url, {"execution_id": execution.pk, "reason": "Wrong night."}
    )
    # then the form says so, and nothing is written
    assert response.status_code == 200
    assert response.context["refund_form"].errors["execution_id"] == [
        "Not an execution of this night's log."
    ]
    assert not LedgerEntry.objects.filter(kind=LedgerKind.REFUND).exists()


def test_closing_the_night_logs_it_and_writes_its_calibrations(
    settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # given a night's log, frames landing in a fresh directory
    settings.RAW_DATA_LANDING = tmp_path
    world = night_world()
    executed_night(world)
    # when the operator closes the night
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client(world.operator).post(log_url(world, "close"))
    # then the log says so and the night's calibration frames landed
    assert response.status_code == 302
    assert NightNote.objects.filter(night=world.night, text=night.NIGHT_CLOSED).count() == 1
    # (the calibrations' task first; as it ran eagerly, the archive then ingested them)
    assert queued[0].func.__self__.name == "observations.tasks.write_calibrations"
    manifests = list((tmp_path / ".manifests").glob("calibrations-*.json"))
    assert len(manifests) == 1
    names = json.loads(manifests[0].read_text())["files"]
    assert names and ArchiveFile.objects.filter(arcfile__in=names).count() == len(names)


def test_a_night_with_a_running_visit_is_not_closed() -> None:
    # given a visit running
    world = night_world()
    night.visit_start(
        telescope_id=world.telescope_id,
        ob_id=world.obs[0].pk,
        actor=world.operator,
        at=world.evening,
    )
    # when the operator closes the night
    response = client(world.operator).post(log_url(world, "close"), follow=True)
    # then it is refused with the busy telescope named, and nothing is logged
    assert "is busy with visit" in response.content.decode()
    assert not NightNote.objects.exists()


# --------------------------------------------------------------------------------------------
# Who, where, how much
# --------------------------------------------------------------------------------------------


def test_only_operators_and_staff_read_the_log() -> None:
    # given a night's log
    world = night_world()
    executed_night(world)
    reviewer = UserFactory.create(username="rita", roles=[Role.REVIEWER])
    urls = [log_url(world), log_url(world, "log_csv"), log_url(world, "log_pdf")]
    for url in urls:
        # then the run's PI, a co-investigator and a reviewer get 403, anonymous the login page
        for user in (world.phase2.pi, world.phase2.coi, reviewer):
            assert client(user).get(url).status_code == 403, (url, user)
        anonymous = client(None).get(url)
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    # and none of them writes a line
    for user in (world.phase2.pi, reviewer):
        response = client(user).post(log_url(world, "note_add"), {"kind": "comment", "text": "x"})
        assert response.status_code == 403
    assert not NightNote.objects.filter(text="x").exists()


def test_an_unknown_telescope_or_a_bad_date_is_a_404() -> None:
    world = night_world(n_obs=0)
    operator = client(world.operator)
    unknown = reverse("nightlog:log", kwargs={"telescope": 999_999, "night": world.night})
    assert operator.get(unknown).status_code == 404
    bad = reverse("nightlog:log", kwargs={"telescope": world.telescope_id, "night": "2027-02-30"})
    assert operator.get(bad).status_code == 404


def test_tonight_and_the_date_form_go_to_a_nights_log() -> None:
    world = night_world(n_obs=0)
    operator = client(world.operator)
    tonight = reverse("nightlog:log", kwargs={"telescope": world.telescope_id, "night": "tonight"})
    response = operator.get(tonight)
    expected = night.night_of(world.phase2.sm.telescope.site.longitude_deg, dt.datetime.now(dt.UTC))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/{expected:%Y-%m-%d}/log/")
    chosen = operator.get(log_url(world), {"night": "2027-03-11"})
    assert chosen["Location"].endswith("/2027-03-11/log/")


def test_the_log_costs_the_same_queries_for_one_execution_or_many() -> None:
    # given a night with one execution, then the same with four more and more notes
    world = night_world(n_obs=5)
    op, t = world.operator, world.evening
    viewer = client(op)

    def execute(ob: ObservationBlock, start: dt.datetime) -> Visit:
        visit = night.visit_start(telescope_id=world.telescope_id, ob_id=ob.pk, actor=op, at=start)
        return night.visit_complete(visit_id=visit.pk, grade="B", actor=op, at=start + HOUR)

    execute(world.obs[0], t)
    viewer.get(log_url(world))  # sessions, caches
    with CaptureQueriesContext(connection) as one:
        viewer.get(log_url(world))
    for k, ob in enumerate(world.obs[1:], start=1):
        execute(ob, t + k * 2 * HOUR)
        night.night_note_add(
            telescope_id=world.telescope_id,
            kind="comment",
            actor=op,
            text=f"note {k}",
            night=world.night,
        )
    with CaptureQueriesContext(connection) as many:
        response = viewer.get(log_url(world))
    # then the page costs the same queries
    assert len(response.context["log"].executions) == 5
    assert len(many.captured_queries) == len(one.captured_queries)
