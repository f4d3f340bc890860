"""Review reads: the hours each telescope offers the call come from the observatory calendar,
the telescope ranking reads the pools once, the ledger's allocations per run."""

import datetime as dt

import pytest
from django.contrib.auth.models import User

from dataflow.accounts.models import Role
from proposals.models import Period
from proposals.review import selectors as sel
from proposals.review import services as rv
from proposals.review.models import LedgerEntry, LedgerKind
from proposals.rules import period_capacity
from scheduling.models import CalendarNight, NightKind
from tests.factories import TelescopeFactory, UserFactory
from tests.review.test_review_services import _submitted


def _staff() -> User:
    return UserFactory.create(username="opc", roles=[Role.STAFF])


def _one_night(period: Period, telescope_name: str) -> float:
    """The period's mean night length at the telescope, hours."""
    nights, hours = period_capacity(period, TelescopeFactory.create(name=telescope_name))
    return hours / nights


@pytest.mark.parametrize("kind", [NightKind.TECHNICAL, NightKind.CLOSED])
def test_a_calendar_night_lowers_the_review_hours_of_its_telescope_by_one_night(
    period: Period, kind: NightKind
) -> None:
    # given two telescopes and the hours they offer with an empty calendar
    ut1, _ = TelescopeFactory.create(name="UT1"), TelescopeFactory.create(name="UT2")
    before = sel.available_hours(period)
    # when a night of the period on UT1 becomes technical (or closed)
    CalendarNight.objects.create(
        telescope=ut1, date=period.start + dt.timedelta(days=10), kind=kind
    )
    # then UT1 offers one mean night less, UT2 the same
    after = sel.available_hours(period)
    assert after["UT1"] == pytest.approx(before["UT1"] - _one_night(period, "UT1"))
    assert after["UT2"] == before["UT2"]


@pytest.mark.parametrize(
    "end, days, counts",
    [
        ("start", -1, False),
        ("end", 1, False),
        ("start", 0, True),  # the period's first and last nights are its own
        ("end", 0, True),
    ],
    ids=["night before the period", "night after it", "its first night", "its last night"],
)
def test_only_calendar_nights_within_the_period_lower_the_review_hours(
    period: Period, end: str, days: int, counts: bool
) -> None:
    # given UT1 and the hours it offers with an empty calendar
    ut1 = TelescopeFactory.create(name="UT1")
    before = sel.available_hours(period)["UT1"]
    # when a technical night is entered on a date at one of the period's ends
    date = getattr(period, end) + dt.timedelta(days=days)
    CalendarNight.objects.create(telescope=ut1, date=date, kind=NightKind.TECHNICAL)
    # then only a night of the period counts
    lost = _one_night(period, "UT1") if counts else 0.0
    assert sel.available_hours(period)["UT1"] == pytest.approx(before - lost)


def test_the_telescope_ranking_offers_the_calendar_hours(period: Period) -> None:
    # given a proposal under review on UT1 and a closed week on UT1's calendar
    _submitted(UserFactory.create(username="pi"), period)
    rv.review_start(period_id=period.pk, actor=_staff())
    ut1 = TelescopeFactory.create(name="UT1")
    for i in range(7):
        CalendarNight.objects.create(
            telescope=ut1, date=period.start + dt.timedelta(days=i), kind=NightKind.CLOSED
        )
    # when staff look at the telescope ranking
    rankings, pressure = sel.telescope_rankings(period)
    # then UT1's time is the period's nights less that week, and its pressure is against it
    nights, _ = period_capacity(period, ut1)
    (ranking,) = [r for r in rankings if r.telescope == "UT1"]
    assert ranking.available_hours == pytest.approx((nights - 7) * _one_night(period, "UT1"))
    assert pressure["UT1"] == pytest.approx(ranking.requested_hours / ranking.available_hours)


def test_the_telescope_ranking_reads_the_pools_once(
    period: Period, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a proposal under review, and the ranking as it is read with the pools given
    _submitted(UserFactory.create(username="pi"), period)
    rv.review_start(period_id=period.pk, actor=_staff())
    expected = sel.telescope_rankings(period, pooled=rv.pools(period))
    calls: list[Period] = []

    def counted(p: Period) -> sel.Pools:
        calls.append(p)
        return rv.pools(p)

    monkeypatch.setattr(sel, "pools", counted)
    # when the ranking is read on its own
    rankings, pressure = sel.telescope_rankings(period)
    # then the pools were computed once, and the result is the same
    assert calls == [period]
    assert pressure == expected[1]
    assert [(r.telescope, r.available_hours, r.lines) for r in rankings] == [
        (r.telescope, r.available_hours, r.lines) for r in expected[0]
    ]


def test_allocated_hours_are_each_runs_allocation_not_its_balance(period: Period) -> None:
    # given a run approved for 2.5 h of which 1 h was executed, and a rejected run
    staff = _staff()
    approved = _submitted(UserFactory.create(username="pi"), period).runs.get()
    rejected = _submitted(UserFactory.create(username="pi2"), period).runs.get()
    rv.review_start(period_id=period.pk, actor=staff)
    rv.run_decide(run_id=approved.pk, actor=staff, approved=True, rank_class="A", hours=2.5)
    rv.run_decide(run_id=rejected.pk, actor=staff, approved=False)
    LedgerEntry.objects.create(run=approved, kind=LedgerKind.CHARGE, seconds=-3600)
    # when the allocation page reads the ledger
    allocated = sel.allocated_hours(period)
    # then the approved run has its allocation, the rejected one none
    assert allocated == {approved.pk: 2.5}
