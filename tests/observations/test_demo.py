"""The demo's Phase 2 (``observations.demo``, run by ``seed_demo``): OBs for the approved runs,
built, submitted and reviewed through the services, obeying the rules user OBs obey."""

from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Sum

from observations import parameters, services
from observations.demo_planner import Kit, Planner
from observations.models import Container, ItemType, ObservationBlock, OverheadModel
from observations.services import EventKind
from observations.status import ACCEPTED, DEFINED, PARTIAL, REPAIR
from observations.verification import NIGHT_S, SHORT_OB_S, constraint_errors
from proposals.models import Mode, ObservingRun
from proposals.review.services import allocated_seconds


@pytest.mark.django_db
def test_the_planner_fills_an_hour_and_a_bit_with_valid_values_on_every_instrument() -> None:
    # given the demo instruments
    call_command("loaddata", "paranal", "instruments", verbosity=0)
    rng = np.random.default_rng(3)
    for model in OverheadModel.objects.all():
        kit = Kit.load(model.instrument_id, model.ip_version)
        for _ in range(20):
            # when an OB of at most 1.2 h and at least the service-mode hour is planned
            planned, seconds = Planner(kit, rng).plan(1.2 * 3600, SHORT_OB_S)
            # then it takes that long, its acquisition comes first, every value is valid
            assert SHORT_OB_S <= seconds <= 1.2 * 3600, (model, seconds)
            assert seconds == kit.execution_s(planned)
            types = [signature.type for signature, _ in planned]
            assert "science" in types and types.count("acquisition") == 1
            assert types[0] == "acquisition"
            for signature, values in planned:
                assert parameters.validate(signature.parameters, values) == {}, signature


@pytest.mark.django_db
def test_seed_demo_gives_the_approved_runs_reviewed_obs_through_the_services() -> None:
    # when a small demo period is made (its Phase 2 walked last)
    out = StringIO()
    call_command("seed_demo", proposals=12, pis=8, reviewers=20, seed=7, stdout=out)
    # then it says what it made, and verification refused nothing
    line = next(s for s in out.getvalue().splitlines() if s.startswith("Phase 2 of"))
    assert "refused" not in line
    open_runs = list(
        ObservingRun.objects.filter(decision__approved=True, proposal__status="approved")
    )
    sm = [r for r in open_runs if r.mode == Mode.SM]
    vm = [r for r in open_runs if r.mode == Mode.VM]
    assert sm and vm
    # and every approved service-mode run has OBs within its allocation, together 70 % of
    # the allocations or more (a run's drafts may still lack their science templates, and a
    # small run has room for one OB of an hour only)
    totals, allocations = [], []
    for run in sm:
        obs = ObservationBlock.objects.filter(run=run)
        totals.append(obs.aggregate(s=Sum("execution_time_s"))["s"] or 0.0)
        allocations.append(allocated_seconds(run))
        assert obs.exists(), run
        assert 0.4 * allocations[-1] <= totals[-1] <= allocations[-1], run
    assert sum(totals) >= 0.7 * sum(allocations)
    # and visitor-mode runs have their root folder only (a few OBs in it, or none)
    assert not Container.objects.filter(run__in=vm, parent__isnull=False).exists()
    # and there are groups with contributions, time-links with delays, concatenations that
    # fit in a night, in service-mode runs only
    by_type = {
        kind: list(Container.objects.filter(item_type=kind))
        for kind in (ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION)
    }
    assert all(by_type.values()), by_type
    assert {c.run.mode for cs in by_type.values() for c in cs} == {Mode.SM}
    assert ObservationBlock.objects.filter(container__item_type=ItemType.GROUP).count() >= 3
    for timelink in by_type[ItemType.TIMELINK]:
        later = list(timelink.obs.order_by("position"))[1:]
        assert later
        for ob in later:
            assert ob.max_delay_s is not None and 86400 <= ob.min_delay_s < ob.max_delay_s
    for concatenation in by_type[ItemType.CONCATENATION]:
        assert concatenation.obs.count() == 2
        assert sum(ob.execution_time_s for ob in concatenation.obs.all()) <= NIGHT_S
    # and most OBs are accepted, some wait for review, a few were sent back or are drafts
    statuses = list(ObservationBlock.objects.values_list("status", flat=True))
    assert set(statuses) <= {ACCEPTED, DEFINED, REPAIR, PARTIAL, "C", "M", "A"}  # demo nights ran
    assert statuses.count(ACCEPTED) >= 0.5 * len(statuses)
    # and every accepted OB passes verification; no OB asks for better conditions than its
    # run's Phase 1 constraints; complete service-mode OBs last at least the hour, but for
    # filler runs' (rank class C) short OBs, whose minimum staff waived one by one
    staff = User.objects.get(username="staff")
    for ob in ObservationBlock.objects.select_related("run__decision"):
        assert constraint_errors(ob, ob.run) == [], ob
        if ob.status == ACCEPTED:
            report = services.ob_verify(ob_id=ob.pk, actor=staff)
            assert report.ok, (ob, report.errors)
        if ob.run.mode == Mode.SM and ob.status != PARTIAL:
            if ob.execution_time_s < SHORT_OB_S:
                assert ob.short_ob_waived and ob.run.decision.rank_class == "C", ob
                assert ob.events.filter(kind=EventKind.WAIVER, actor=staff).exists(), ob
            else:
                assert not ob.short_ob_waived, ob
    assert ObservationBlock.objects.filter(short_ob_waived=True).exists()
    # and each OB was made by its run's PI through the services (created or duplicated, an
    # event each); staff's send-backs carry their message
    for ob in ObservationBlock.objects.select_related("run__proposal"):
        made = ob.events.filter(kind__in=[EventKind.CREATE, EventKind.DUPLICATE]).get()
        assert made.actor_id == ob.run.proposal.pi_id
    for ob in ObservationBlock.objects.filter(status=REPAIR):
        back = ob.events.get(to_status=REPAIR)
        assert back.actor == staff and back.message
