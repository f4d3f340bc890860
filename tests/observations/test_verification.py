"""The richer verification of an OB (observations.verification): constraints no stricter than
Phase 1, the service-mode one-hour minimum, the run's OB time against its allocation, time-link
delays and concatenations, and the target's observability in the period and its windows."""

import datetime as dt
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observations import rules, services, verification
from observations.models import (
    AbsoluteWindow,
    Container,
    ItemType,
    ObservationBlock,
    SkyTransparency,
)
from proposals.models import Mode, ObservingRun, Transparency
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db


def _ob(phase2: Phase2, container: Container | None = None, **fields: object) -> ObservationBlock:
    holder = container or phase2.root(phase2.sm)
    ob = services.ob_create(container_id=holder.pk, name="OB", actor=phase2.pi)
    if fields:
        ObservationBlock.objects.filter(pk=ob.pk).update(**fields)
    return ObservationBlock.objects.select_related("run__proposal__period").get(pk=ob.pk)


def _changed(ob: ObservationBlock, field: str, value: float) -> ObservationBlock:
    ObservationBlock.objects.filter(pk=ob.pk).update(**{field: value})
    return ObservationBlock.objects.get(pk=ob.pk)


def _container(phase2: Phase2, item_type: str) -> Container:
    return services.container_create(
        parent_id=phase2.root(phase2.sm).pk, item_type=item_type, name="C", actor=phase2.pi
    )


def _container_errors(ob: ObservationBlock) -> list[str]:
    container = Container.objects.get(pk=ob.container_id)
    lengths = verification.concatenation_lengths([container])
    return verification.container_errors(ob, container, lengths.get(container.pk, 0.0))


def _observability_errors(ob: ObservationBlock, run: ObservingRun) -> list[str]:
    return verification.observability_errors_many([ob], run)[ob.pk]


def _sun(phase2: Phase2) -> tuple[float, float]:
    """The Sun's RA and Dec in the middle of the period, to a few degrees."""
    period = phase2.proposal.period
    middle = period.start + (period.end - period.start) / 2
    longitude = ((middle - dt.date(middle.year, 3, 20)).days * 360 / 365.25) % 360
    return longitude, 23.44 * math.sin(math.radians(longitude))


def _opposition_ra(phase2: Phase2) -> float:
    """An RA opposite the Sun: a target there is up all night."""
    return (_sun(phase2)[0] + 180) % 360


# --- constraints against Phase 1 --------------------------------------------------------


def test_a_new_ob_with_the_phase1_constraints_passes_the_constraint_check(phase2: Phase2) -> None:
    ob = _ob(phase2)
    assert verification.constraint_errors(ob, phase2.sm) == []


@pytest.mark.parametrize(
    ("field", "stricter", "looser", "word"),
    [
        ("max_airmass", -0.1, 0.3, "airmass"),
        ("max_fli", -0.1, 0.0, "FLI"),
        ("seeing_arcsec", -0.2, 0.5, "Seeing"),
    ],
)
def test_a_constraint_stricter_than_phase1_is_an_error_a_looser_one_is_not(
    phase2: Phase2, field: str, stricter: float, looser: float, word: str
) -> None:
    run: ObservingRun = phase2.sm
    phase1 = {
        "max_airmass": run.max_airmass,
        "max_fli": run.max_fli,
        "seeing_arcsec": run.max_seeing_arcsec,
    }[field]
    strict = _changed(_ob(phase2), field, phase1 + stricter)
    errors = rules.verify(strict).errors
    assert [e for e in errors if word in e and "stricter" in e and f"{phase1:g}" in e]
    loose = _changed(_ob(phase2), field, phase1 + looser)
    assert verification.constraint_errors(loose, run) == []


def test_a_sky_better_than_phase1_is_an_error(phase2: Phase2) -> None:
    ObservingRun.objects.filter(pk=phase2.sm.pk).update(transparency=Transparency.THIN_CIRRUS)
    run = ObservingRun.objects.get(pk=phase2.sm.pk)
    clear = _ob(phase2, sky_transparency=SkyTransparency.CLEAR)
    [error] = verification.constraint_errors(clear, run)
    assert "choose Thin or worse" in error
    for ok in (SkyTransparency.THIN, SkyTransparency.VARIABLE):
        assert verification.constraint_errors(_ob(phase2, sky_transparency=ok), run) == []


# --- service-mode one-hour minimum ------------------------------------------------------


def test_a_short_sm_ob_is_an_error_unless_waived(phase2: Phase2) -> None:
    short = _ob(phase2, execution_time_s=1800.0)
    [error] = verification.short_ob_errors(short, phase2.sm)
    assert "at least one hour" in error and "30 min" in error
    waived = _ob(phase2, execution_time_s=1800.0, short_ob_waived=True)
    assert verification.short_ob_errors(waived, phase2.sm) == []
    long = _ob(phase2, execution_time_s=3600.0)
    assert verification.short_ob_errors(long, phase2.sm) == []


def test_the_one_hour_minimum_is_for_service_mode_only(phase2: Phase2) -> None:
    assert phase2.vm.mode == Mode.VM
    ob = _ob(phase2, execution_time_s=600.0)
    assert verification.short_ob_errors(ob, phase2.vm) == []


# --- allocation -------------------------------------------------------------------------


def test_obs_over_the_runs_allocation_are_a_warning(phase2: Phase2) -> None:
    first = _ob(phase2, execution_time_s=6 * 3600.0)
    assert verification.allocation_warnings(phase2.sm) == []  # 6 h of 10 h
    second = _ob(phase2, execution_time_s=5 * 3600.0)
    report = rules.verify(second)
    assert report.warnings[-1].startswith("The run's OBs take 11.0 h, more than its 10.0 h")
    assert first.pk != second.pk


# --- containers -------------------------------------------------------------------------


def test_a_timelink_latest_delay_shorter_than_the_earliest_is_an_error(phase2: Phase2) -> None:
    link = _container(phase2, ItemType.TIMELINK)
    bad = _ob(phase2, link, min_delay_s=3 * 86400, max_delay_s=86400)
    errors = rules.verify(bad).errors
    assert [e for e in errors if "latest delay (86400 s) is shorter than the earliest" in e]
    good = _ob(phase2, link, min_delay_s=86400, max_delay_s=3 * 86400)
    assert _container_errors(good) == []
    open_ended = _ob(phase2, link, min_delay_s=86400, max_delay_s=None)
    assert _container_errors(open_ended) == []


def test_a_concatenation_longer_than_a_night_is_an_error(phase2: Phase2) -> None:
    chain = _container(phase2, ItemType.CONCATENATION)
    first = _ob(phase2, chain, execution_time_s=6 * 3600.0)
    assert _container_errors(first) == []
    second = _ob(phase2, chain, execution_time_s=7 * 3600.0)
    errors = rules.verify(second).errors
    assert [e for e in errors if "takes 13.0 h, more than one night (12 h)" in e]


# --- observability ----------------------------------------------------------------------


def test_a_target_up_all_night_is_observable(phase2: Phase2) -> None:
    ob = _ob(phase2, ra_deg=_opposition_ra(phase2), dec_deg=-30.0)
    assert _observability_errors(ob, phase2.sm) == []


def test_a_target_never_above_its_airmass_limit_is_an_error(phase2: Phase2) -> None:
    # From Paranal (-24.6 deg) a target at +70 deg never gets below airmass 2.
    ob = _ob(phase2, ra_deg=_opposition_ra(phase2), dec_deg=70.0, max_airmass=2.0)
    [error] = _observability_errors(ob, phase2.sm)
    assert "never reaches airmass 2" in error and "raise the max airmass" in error


def test_a_target_in_conjunction_with_the_sun_is_an_error(phase2: Phase2) -> None:
    ra, dec = _sun(phase2)
    ob = _ob(phase2, ra_deg=ra, dec_deg=dec, max_airmass=1.5)
    [error] = _observability_errors(ob, phase2.sm)
    assert f"during period {phase2.proposal.period}" in error


def test_observability_counts_only_the_obs_absolute_windows(phase2: Phase2) -> None:
    period = phase2.proposal.period
    ob = _ob(phase2, ra_deg=_opposition_ra(phase2), dec_deg=-30.0)
    after = dt.datetime.combine(period.end + dt.timedelta(days=10), dt.time(), dt.UTC)
    AbsoluteWindow.objects.create(ob=ob, start=after, end=after + dt.timedelta(days=2))
    [error] = _observability_errors(ob, phase2.sm)
    assert "No absolute window falls in the period" in error
    inside = dt.datetime.combine(period.start + dt.timedelta(days=3), dt.time(), dt.UTC)
    AbsoluteWindow.objects.create(ob=ob, start=inside, end=inside + dt.timedelta(days=1))
    assert _observability_errors(ob, phase2.sm) == []


# --- wired into verification, for many OBs at once ----------------------------------------


def test_submission_refuses_a_short_or_unobservable_sm_ob(phase2: Phase2) -> None:
    ra, dec = _sun(phase2)
    ob = _ob(phase2, ra_deg=ra, dec_deg=dec, target_name="Sun-side", execution_time_s=1200.0)
    errors = rules.verify(ob).errors
    assert [e for e in errors if "at least one hour" in e]
    assert [e for e in errors if "never reaches airmass" in e]


def test_verifying_many_obs_costs_a_constant_number_of_queries(phase2: Phase2) -> None:
    def queries(n: int) -> int:
        obs = [_ob(phase2, ra_deg=_opposition_ra(phase2), dec_deg=-30.0) for _ in range(n)]
        loaded = list(ObservationBlock.objects.filter(pk__in=[ob.pk for ob in obs]))
        with CaptureQueriesContext(connection) as captured:
            reports = rules.verify_many(loaded)
        assert set(reports) == {ob.pk for ob in obs}
        return len(captured)

    assert queries(2) == queries(12)
