"""The staff review of Phase 2 in the browser's terms: the queue of submitted OBs (staff only,
grouped by run, oldest submission first, filters, a fixed number of queries), an OB's review
page with Accept, Send back (a message required) and the short-OB waiver, accepting a
container at once, stale pages refused without a change, and the two homes (the staff card,
the astronomers' runs with what was sent back to them)."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dataflow.errors import InvalidInput
from observations import ob_parts, services
from observations.models import (
    Container,
    ItemType,
    ObservationBlock,
    OBStatus,
    Phase2Event,
    Template,
    TemplateSignature,
)
from tests.conftest import logged_in
from tests.factories import InstrumentFactory, PeriodFactory, TelescopeFactory
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db

Counter = Callable[..., Any]  # pytest-django's django_assert_num_queries

QUEUE = "/phase2/review/"


def ob_url(ob: ObservationBlock, action: str = "") -> str:
    return f"/phase2/review/obs/{ob.pk}/" + (f"{action}/" if action else "")


def container_url(container: Container) -> str:
    return f"/phase2/review/containers/{container.pk}/accept/"


def prepared(
    phase2: Phase2, name: str, container: Container | None = None, *, dit: float = 3600.0
) -> ObservationBlock:
    """An OB (status P) in ``container`` (the SM run's root folder by default) with the Phase 1
    target, an acquisition and an imaging template of ``dit`` seconds: at 3600 s it lasts more
    than the SM one-hour minimum."""
    holder = container or phase2.root(phase2.sm)
    ob = services.ob_create(container_id=holder.pk, name=name, actor=phase2.pi)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk,
        values={"INS.FILT": "R_SPECIAL", "DET.DIT": dit},
        actor=phase2.pi,
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def submitted(phase2: Phase2, name: str, container: Container | None = None) -> ObservationBlock:
    ob = prepared(phase2, name, container)
    done, report = services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    assert done.status == OBStatus.DEFINED, report.errors
    return ObservationBlock.objects.get(pk=ob.pk)


def fresh(ob: ObservationBlock) -> ObservationBlock:
    return ObservationBlock.objects.get(pk=ob.pk)


def group(phase2: Phase2, name: str = "G") -> Container:
    return services.container_create(
        parent_id=phase2.root(phase2.sm).pk,
        item_type=ItemType.GROUP,
        name=name,
        actor=phase2.pi,
    )


def add(phase2: Phase2, container: Container, n: int) -> None:
    """``n`` submitted OBs of the SM run in ``container``, written directly (their content
    and verification do not matter where they are used: counting queries and pages)."""
    signature = TemplateSignature.objects.get(name="FORS2_img_obs")
    obs = ObservationBlock.objects.bulk_create(
        ObservationBlock(
            run=phase2.sm,
            container=container,
            name=f"{container.name} {i}",
            status=OBStatus.DEFINED,
            target_name="NGC 253",
            ra_deg=11.888,
            dec_deg=-25.288,
            execution_time_s=4050.0,
            position=i,
        )
        for i in range(n)
    )
    Template.objects.bulk_create(
        Template(ob=ob, signature=signature, values={"INS.FILT": "R_SPECIAL"}) for ob in obs
    )
    Phase2Event.objects.bulk_create(
        Phase2Event(run=phase2.sm, ob=ob, kind="status", from_status="P", to_status="D")
        for ob in obs
    )


def row_of(html: str, ob: ObservationBlock) -> str:
    found = re.search(rf'<tr id="ob-{ob.pk}">(.*?)</tr>', html, re.S)
    assert found, f"no queue row for OB {ob.pk}"
    return found.group(1)


# -- the queue ---------------------------------------------------------------------------------


def section_of(html: str, run_id: int) -> str:
    found = re.search(rf'<section class="card" id="run-{run_id}">(.*?)</section>', html, re.S)
    assert found, f"no queue section for run {run_id}"
    return found.group(1)


def test_the_queue_lists_submitted_obs_only_grouped_by_run(phase2: Phase2) -> None:
    # given: two submitted OBs in a group of the SM run, one still partial, one accepted, and
    # a submitted OB of the VM run
    holder = group(phase2, "Deep field")
    first, second = submitted(phase2, "OB one", holder), submitted(phase2, "OB two", holder)
    partial = prepared(phase2, "OB draft")
    accepted = submitted(phase2, "OB done")
    services.ob_accept(ob_id=accepted.pk, actor=phase2.staff)
    visitor = submitted(phase2, "OB visitor", phase2.root(phase2.vm))
    # when
    response = logged_in(phase2.staff).get(QUEUE)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 OBs awaiting review" in html
    sm, vm = section_of(html, phase2.sm.pk), section_of(html, phase2.vm.pk)
    for ob in (first, second):
        row = row_of(sm, ob)
        assert ob.name in row and "Group Deep field" in row and "NGC 253" in row
        assert "airmass ≤" in row and "1.16 h" in row  # 360 + 120 + 60 + 3600 + 30 s
        assert f'id="accept-{ob.pk}"' in row and f'id="send-back-message-{ob.pk}"' in row
    assert f'id="ob-{visitor.pk}"' in vm and f'id="ob-{visitor.pk}"' not in sm
    assert f'id="ob-{partial.pk}"' not in html and f'id="ob-{accepted.pk}"' not in html
    # the SM run's allocation (10 h) against its OBs' total (four OBs of 4170 s)
    assert "10.00 h" in sm and "4.63 h in 4 OBs" in sm
    assert "1 night" in vm


def test_the_queue_shows_each_obs_verification(phase2: Phase2) -> None:
    # given: a submitted OB whose template was later made invalid behind the services' back
    ob = submitted(phase2, "OB one")
    Template.objects.filter(ob=ob, signature__name="FORS2_img_obs").update(
        values={"INS.FILT": "U_BESS", "DET.DIT": 3600.0}
    )
    # when
    html = logged_in(phase2.staff).get(QUEUE).content.decode()
    # then
    row = row_of(html, ob)
    assert "INS.FILT" in row and 'class="error"' in row


def test_the_queue_lists_the_oldest_submission_first(phase2: Phase2) -> None:
    # given: B submitted after A, then A revised and submitted again: B waits longest
    a, b = submitted(phase2, "OB A"), submitted(phase2, "OB B")
    now = timezone.now()
    Phase2Event.objects.filter(ob=a, to_status=OBStatus.DEFINED).update(
        at=now - dt.timedelta(days=3)
    )
    Phase2Event.objects.filter(ob=b, to_status=OBStatus.DEFINED).update(
        at=now - dt.timedelta(days=2)
    )
    services.ob_revise(ob_id=a.pk, actor=phase2.pi)
    services.ob_submit(ob_id=a.pk, actor=phase2.pi)
    # when
    html = logged_in(phase2.staff).get(QUEUE).content.decode()
    # then
    assert html.index(f'id="ob-{b.pk}"') < html.index(f'id="ob-{a.pk}"')


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ("", True),
        ("?period=130", True),
        ("?period=131", False),
        ("?telescope=UT1&instrument=FORS2", True),
        ("?telescope=UT2", False),
        ("?instrument=KMOS", False),
        ("?period=130&telescope=UT1&instrument=KMOS", False),
    ],
)
def test_the_queue_filters_by_period_telescope_and_instrument(
    phase2: Phase2, query: str, listed: bool
) -> None:
    # given: another period, telescope and instrument with nothing to review
    PeriodFactory.create(number=131)
    InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="KMOS")
    ob = submitted(phase2, "OB one")
    # when
    html = logged_in(phase2.staff).get(QUEUE + query).content.decode()
    # then
    assert (f'id="ob-{ob.pk}"' in html) is listed
    assert ('id="queue-empty"' in html) is not listed


def test_an_unknown_filter_value_is_shown_and_filters_nothing(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    # when
    response = logged_in(phase2.staff).get(QUEUE + "?period=abc")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice" in html and f'id="ob-{ob.pk}"' in html


def test_only_staff_see_the_queue_and_the_review_pages(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    urls = [QUEUE, ob_url(ob)]
    # when
    codes = {
        who.username: [logged_in(who).get(url).status_code for url in urls]
        for who in (phase2.pi, phase2.coi, phase2.outsider)
    }
    anonymous = [Client().get(url) for url in urls]
    # then
    assert codes == {who: [403, 403] for who in codes}
    assert all(r.headers["Location"].startswith("/accounts/login/") for r in anonymous)


def test_a_page_of_50_obs_costs_the_queries_of_a_page_of_5(
    phase2: Phase2, django_assert_num_queries: Counter
) -> None:
    # given: 5 submitted OBs in one group, then 45 more in a second group and the root
    staff = logged_in(phase2.staff)
    staff.get(QUEUE)  # the session and the user's roles are read the same way each time
    add(phase2, group(phase2, "G1"), 5)
    with CaptureQueriesContext(connection) as small:
        response = staff.get(QUEUE)
    assert response.content.decode().count('<tr id="ob-') == 5
    add(phase2, group(phase2, "G2"), 25)
    add(phase2, phase2.root(phase2.sm), 20)
    # when
    with django_assert_num_queries(len(small.captured_queries)):
        response = staff.get(QUEUE)
    # then
    assert response.content.decode().count('<tr id="ob-') == 50


def test_the_queue_is_paginated_keeping_the_filters(phase2: Phase2) -> None:
    # given: 51 submitted OBs
    add(phase2, group(phase2, "G"), 51)
    staff = logged_in(phase2.staff)
    # when
    first = staff.get(QUEUE + "?period=130").content.decode()
    second = staff.get(QUEUE + "?period=130&page=2").content.decode()
    # then
    assert first.count('<tr id="ob-') == 50 and "Page 1 of 2" in first
    assert 'href="?period=130&amp;page=2"' in first
    assert second.count('<tr id="ob-') == 1 and "51 OBs awaiting review" in second


# -- the OB's review page ----------------------------------------------------------------------


def test_the_review_page_shows_the_ob_in_full(phase2: Phase2) -> None:
    # given: a submitted OB with an absolute and a sidereal window
    ob = prepared(phase2, "OB one")
    start = dt.datetime.combine(phase2.sm.proposal.period.start, dt.time(23), tzinfo=dt.UTC)
    ob_parts.absolute_windows_set(
        ob_id=ob.pk, windows=[(start, start + dt.timedelta(hours=4))], actor=phase2.pi
    )
    ob_parts.sidereal_windows_set(ob_id=ob.pk, windows=[("20:00", "23:30")], actor=phase2.pi)
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    # when
    response = logged_in(phase2.staff).get(ob_url(ob))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        "OB one",
        "NGC 253",
        "FORS2_img_acq",
        "FORS2_img_obs",
        "INS.FILT",
        "R_SPECIAL",
        "4170 s",
        f"{start:%Y-%m-%dT%H:%M}..",
        "LST 20:00..23:30",
        "P → D",
        'id="accept-button"',
        'id="send-back-message"',
        'id="send-back-button"',
    ):
        assert text in html, text


def test_accept_makes_the_ob_ready_with_an_event_row(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    next_url = QUEUE + "?period=130"
    # when
    response = logged_in(phase2.staff).post(
        ob_url(ob, "accept"), {"version": ob.version, "next": next_url}
    )
    # then
    assert response.status_code == 302 and response.headers["Location"] == next_url
    assert fresh(ob).status == OBStatus.ACCEPTED
    event = Phase2Event.objects.filter(ob=ob).latest("pk")
    assert (event.from_status, event.to_status, event.actor) == ("D", "+", phase2.staff)


def test_an_outside_next_url_is_not_followed(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    # when
    response = logged_in(phase2.staff).post(
        ob_url(ob, "accept"), {"version": ob.version, "next": "https://evil.example/"}
    )
    # then
    assert response.headers["Location"] == QUEUE


def test_send_back_without_a_message_is_refused_on_the_form(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    events = Phase2Event.objects.count()
    # when
    response = logged_in(phase2.staff).post(
        ob_url(ob, "send-back"), {"version": ob.version, "message": "   "}
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="send-back-errors"' in html and "Tell the astronomers what to change." in html
    assert (fresh(ob).status, fresh(ob).version) == (OBStatus.DEFINED, ob.version)
    assert Phase2Event.objects.count() == events


def test_a_sent_back_ob_shows_on_the_astronomers_home_with_the_message(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    message = "Use I_BESS: R_SPECIAL saturates on the nucleus."
    # when
    response = logged_in(phase2.staff).post(
        ob_url(ob, "send-back"), {"version": ob.version, "message": message}
    )
    home = logged_in(phase2.coi).get(reverse("proposals:mine"))
    # then
    assert response.status_code == 302
    assert fresh(ob).status == OBStatus.REPAIR
    html = home.content.decode()
    sent_back = re.search(rf'<div class="sent-back" id="sent-back-{ob.pk}">(.*?)</div>', html, re.S)
    assert sent_back, html
    assert "OB one" in sent_back.group(1)
    assert "Use I_BESS: R_SPECIAL saturates on the nucleus." in sent_back.group(1)
    assert f'href="{reverse("phase2:ob", args=[ob.pk])}"' in sent_back.group(1)
    assert f'href="{reverse("phase2:run", args=[phase2.sm.pk])}"' in html


def test_the_astronomers_home_counts_obs_by_status(phase2: Phase2) -> None:
    # given: one partial and two submitted OBs in the SM run, none in the VM run
    prepared(phase2, "draft")
    submitted(phase2, "one")
    submitted(phase2, "two")
    # when
    html = logged_in(phase2.pi).get(reverse("proposals:mine")).content.decode()
    # then
    sm = re.search(rf'<tr id="phase2-run-{phase2.sm.pk}">(.*?)</tr>', html, re.S)
    vm = re.search(rf'<tr id="phase2-run-{phase2.vm.pk}">(.*?)</tr>', html, re.S)
    assert sm and vm
    assert "1 Partially defined" in sm.group(1) and "2 Defined (awaiting review)" in sm.group(1)
    assert "no OB yet" in vm.group(1)


def test_the_astronomers_home_costs_the_same_queries_with_more_sent_back_obs(
    phase2: Phase2, django_assert_num_queries: Counter
) -> None:
    # given
    client = logged_in(phase2.pi)
    url = reverse("proposals:mine")

    def send_back(n: int, start: int) -> None:
        for i in range(n):
            ob = submitted(phase2, f"OB {start + i}")
            services.ob_send_back(ob_id=ob.pk, message=f"fix {start + i}", actor=phase2.staff)

    send_back(1, 0)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    send_back(4, 1)
    # when
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    # then
    assert response.content.decode().count('class="sent-back"') == 5


def test_a_stale_version_is_refused_with_a_message_and_changes_nothing(phase2: Phase2) -> None:
    # given: the page was loaded, then the investigators revised and resubmitted the OB
    ob = submitted(phase2, "OB one")
    shown = ob.version
    services.ob_revise(ob_id=ob.pk, actor=phase2.pi)
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    current = fresh(ob)
    staff = logged_in(phase2.staff)
    # when
    accept = staff.post(ob_url(ob, "accept"), {"version": shown})
    send_back = staff.post(ob_url(ob, "send-back"), {"version": shown, "message": "Fix it."})
    # then
    for response, errors in ((accept, "accept-errors"), (send_back, "send-back-errors")):
        html = response.content.decode()
        assert response.status_code == 200
        assert f'id="{errors}"' in html and "was changed since you loaded it" in html
        # the page now offers the current version
        assert f'name="version" value="{current.version}"' in html
    assert "Fix it." in send_back.content.decode()  # the typed message is kept
    after = fresh(ob)
    assert (after.status, after.version) == (OBStatus.DEFINED, current.version)


def test_a_form_without_a_version_is_refused(phase2: Phase2) -> None:
    # given
    ob = submitted(phase2, "OB one")
    # when
    response = logged_in(phase2.staff).post(ob_url(ob, "accept"), {"version": "x"})
    # then
    assert response.status_code == 200
    assert "reload the page and try again" in response.content.decode()
    assert fresh(ob).status == OBStatus.DEFINED


def test_accepting_an_ob_no_longer_submitted_says_why(phase2: Phase2) -> None:
    # given: accepted already (by a colleague)
    ob = submitted(phase2, "OB one")
    services.ob_accept(ob_id=ob.pk, actor=phase2.staff)
    # when
    response = logged_in(phase2.staff).post(ob_url(ob, "accept"), {"version": fresh(ob).version})
    # then
    assert response.status_code == 200
    assert "cannot be accepted" in response.content.decode()
    assert fresh(ob).status == OBStatus.ACCEPTED


def test_non_staff_writes_are_refused_and_change_nothing(phase2: Phase2) -> None:
    # given
    holder = group(phase2)
    ob = submitted(phase2, "OB one", holder)
    holder.refresh_from_db()
    posts = [
        (ob_url(ob, "accept"), {"version": ob.version}),
        (ob_url(ob, "send-back"), {"version": ob.version, "message": "no"}),
        (ob_url(ob, "waiver"), {"version": ob.version, "waived": "yes"}),
        (container_url(holder), {"version": holder.version}),
    ]
    events = Phase2Event.objects.count()
    # when
    codes = [
        logged_in(who).post(url, data).status_code
        for who in (phase2.pi, phase2.coi, phase2.outsider)
        for url, data in posts
    ]
    anonymous = [Client().post(url, data).status_code for url, data in posts]
    # then
    assert codes == [403] * 12 and anonymous == [302] * 4
    after = fresh(ob)
    assert (after.status, after.version, after.short_ob_waived) == ("D", ob.version, False)
    assert Phase2Event.objects.count() == events


def test_the_waiver_lets_a_short_service_mode_ob_be_submitted(phase2: Phase2) -> None:
    # given: a 10-minute SM OB, refused at submission
    ob = prepared(phase2, "Short", dit=60.0)
    with pytest.raises(InvalidInput) as refused:
        services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    assert "at least one hour" in " ".join(refused.value.errors["verification"])
    staff = logged_in(phase2.staff)
    assert 'id="waiver-button"' in staff.get(ob_url(ob)).content.decode()
    # when: staff waive the minimum
    response = staff.post(ob_url(ob, "waiver"), {"version": ob.version, "waived": "yes"})
    # then
    assert response.status_code == 302
    assert fresh(ob).short_ob_waived is True
    assert Phase2Event.objects.filter(ob=ob, kind="waiver", message="waived").exists()
    done, _ = services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    assert done.status == OBStatus.DEFINED
    # and when: they restore it
    staff.post(ob_url(ob, "waiver"), {"version": fresh(ob).version, "waived": "no"})
    assert fresh(ob).short_ob_waived is False


def test_a_long_ob_offers_no_waiver(phase2: Phase2) -> None:
    ob = submitted(phase2, "Long")
    assert 'id="waiver-button"' not in logged_in(phase2.staff).get(ob_url(ob)).content.decode()


def test_accepting_a_container_accepts_its_submitted_obs_only(phase2: Phase2) -> None:
    # given: a group with two submitted OBs and a partial one
    holder = group(phase2)
    obs = [submitted(phase2, "one", holder), submitted(phase2, "two", holder)]
    partial = prepared(phase2, "three", holder)
    holder.refresh_from_db()
    staff = logged_in(phase2.staff)
    assert f'id="container-accept-{holder.pk}"' in staff.get(QUEUE).content.decode()
    # when
    response = staff.post(container_url(holder), {"version": holder.version, "next": QUEUE})
    # then
    assert response.status_code == 302 and response.headers["Location"] == QUEUE
    assert [fresh(ob).status for ob in obs] == [OBStatus.ACCEPTED] * 2
    assert fresh(partial).status == OBStatus.PARTIAL
    assert "2 OBs accepted" in staff.get(QUEUE).content.decode()


def test_accepting_a_stale_container_changes_nothing(phase2: Phase2) -> None:
    # given
    holder = group(phase2)
    ob = submitted(phase2, "one", holder)
    stale = Container.objects.get(pk=holder.pk).version - 1
    staff = logged_in(phase2.staff)
    # when
    response = staff.post(container_url(holder), {"version": stale, "next": QUEUE}, follow=True)
    # then
    assert "was changed since you loaded it" in response.content.decode()
    assert fresh(ob).status == OBStatus.DEFINED


def test_an_unknown_ob_or_container_is_a_404_for_staff(phase2: Phase2) -> None:
    staff = logged_in(phase2.staff)
    assert staff.get("/phase2/review/obs/999999/").status_code == 404
    assert staff.post("/phase2/review/obs/999999/accept/", {"version": 1}).status_code == 404
    assert staff.post("/phase2/review/containers/999999/accept/", {"version": 1}).status_code == 404


# -- the staff home ----------------------------------------------------------------------------


def test_staff_land_on_the_review_overview_with_the_phase2_card(phase2: Phase2) -> None:
    # given
    submitted(phase2, "one")
    submitted(phase2, "two")
    # when
    response = logged_in(phase2.staff).get("/", follow=True)
    # then
    html = response.content.decode()
    card = re.search(r'<section class="card" id="phase2-review-card">(.*?)</section>', html, re.S)
    assert card, html
    assert "Phase 2: 2 OBs awaiting review" in card.group(1)
    assert f'href="{QUEUE}"' in card.group(1)
