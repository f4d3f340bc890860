"""The night adapter: a telescope's accepted OBs become the ranking engine's arrays straight from
query values, equal to the arrays built from ``Candidate`` objects of the same OBs; kept per
telescope and night and rebuilt when an OB, an execution or the ledger changes; ranked with
the justification and the reasons.

The world: two approved service-mode runs on UT1 at Paranal (run A of rank class B with a
chair's grade, run B of class A and ungraded, later out of time), OBs written with the ORM
(the adapter only reads): plain OBs with proper motion, windows and varied constraint sets, a
group with one OB completed, a time-link whose first OB was executed two nights before, a
concatenation, OBs in statuses that are not candidates and an OB on another telescope.
"""

import datetime as dt
import threading
from collections.abc import Callable

import numpy as np
import pytest
from astropy.time import Time
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from dataflow.accounts.models import Role
from dataflow.astro.sky import sky_samples
from dataflow.observatory.models import Telescope
from observations.models import (
    AbsoluteWindow,
    Container,
    Execution,
    ItemType,
    ObservationBlock,
    OBStatus,
    SiderealWindow,
    Visit,
    VisitState,
)
from proposals.models import ObservingRun, Proposal, ProposalStatus
from proposals.review.models import LedgerEntry, LedgerKind, Panel, PanelGrade, RunDecision
from proposals.review.services import run_decide
from scheduling.engine.ranking.arrays import CandidateArrays
from scheduling.engine.ranking.engine import rank
from scheduling.engine.ranking.model import (
    Candidate,
    ConcatenationMembership,
    Conditions,
    ConstraintSet,
    GroupMembership,
    RankingOptions,
    TimeLinkMembership,
    Transparency,
)
from scheduling.night.cache import NightCache, probe
from scheduling.night.candidates import build_arrays, night_span_mjd
from scheduling.night.ranking import evening_date, rank_for
from tests.factories import InstrumentFactory, RunFactory, TelescopeFactory, UserFactory
from tests.observations.conftest import reviewed_proposal

UTC = dt.UTC
CANDIDATE = ("+", "M", "A")
COMPLETING = ("A", "B", "D")  # QC grades that complete an OB (C: it must be repeated)


class World:
    def __init__(self, telescope: Telescope, run_a: ObservingRun, run_b: ObservingRun) -> None:
        self.telescope = telescope
        self.run_a = run_a
        self.run_b = run_b
        self.night = run_a.proposal.period.start + dt.timedelta(days=2)
        self.site = telescope.site.as_astro()
        # local mean midnight of the night, UTC
        self.at = dt.datetime.combine(
            self.night + dt.timedelta(days=1), dt.time(0, 0), tzinfo=UTC
        ) - dt.timedelta(hours=self.site.longitude_deg / 15.0)
        lst = float(sky_samples(self.site, Time(self.at.replace(tzinfo=None))).lst_deg[0])
        self.lst_deg = lst
        self.obs: dict[str, ObservationBlock] = {}

    def root(self, run: ObservingRun) -> Container:
        return Container.objects.get(run=run, parent__isnull=True)

    def container(self, run: ObservingRun, kind: str, name: str) -> Container:
        return Container.objects.create(
            run=run, parent=self.root(run), item_type=kind, name=name, position=len(self.obs)
        )

    def ob(
        self,
        name: str,
        *,
        run: ObservingRun | None = None,
        container: Container | None = None,
        status: str = OBStatus.ACCEPTED,
        ha_h: float = 0.0,
        dec: float = -40.0,
        **fields: object,
    ) -> ObservationBlock:
        """An OB ``ha_h`` hours of hour angle from the meridian at ``self.at``."""
        run = run or self.run_a
        values: dict[str, object] = {
            "ra_deg": (self.lst_deg - 15.0 * ha_h) % 360.0,
            "dec_deg": dec,
            "execution_time_s": 1800.0,
            "min_moon_distance_deg": 0.0,
            "ip_version": "130.0",
            **fields,
        }
        ob = ObservationBlock.objects.create(
            run=run,
            container=container or self.root(run),
            name=name,
            status=status,
            position=len(self.obs),
            **values,
        )
        self.obs[name] = ob
        return ob

    def execute(self, ob: ObservationBlock, ended: dt.datetime, grade: str = "A") -> Execution:
        visit = Visit.objects.create(
            telescope=self.telescope,
            night=evening_date(self.site, ended),
            started_at=ended - dt.timedelta(seconds=ob.execution_time_s),
            ended_at=ended,
            state=VisitState.DONE,
        )
        return Execution.objects.create(
            visit=visit, ob=ob, status_before=ob.status, ended_at=ended, grade=grade
        )


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def make_world() -> World:
    staff = UserFactory.create(username="opc-staff", email="opc@example.org", roles=[Role.STAFF])
    pi: User = UserFactory.create(username="pi-night", email="pi@example.org")
    proposal_a, run_a, _ = reviewed_proposal(pi, number=1)
    proposal_b, run_b, _ = reviewed_proposal(pi, number=2)
    run_decide(
        run_id=run_a.pk, actor=staff, approved=True, rank_class="B", hours=10.0, send_outcome=False
    )
    run_decide(
        run_id=run_b.pk, actor=staff, approved=True, rank_class="A", hours=2.0, send_outcome=False
    )
    PanelGrade.objects.create(proposal=proposal_a, panel=_panel(proposal_a), grade="1.7", by=staff)
    w = World(run_a.telescope, run_a, run_b)
    # plain OBs of run A
    w.ob("meridian", pm_ra=0.12, pm_dec=-0.05, epoch=2015.5, user_priority=2)
    w.ob("east", ha_h=-2.0, max_airmass=1.5, seeing_arcsec=0.6, sky_transparency="Clear")
    w.ob("photometric", ha_h=1.0, sky_transparency="Photometric", max_fli=0.3)
    w.ob("thin", ha_h=0.5, sky_transparency="Thin", twilight_min=-30.0, user_priority=9)
    w.ob("rises late", ha_h=-6.0, dec=-30.0)
    w.ob("daytime", ha_h=12.0, dec=-10.0, status=OBStatus.MUST_REPEAT)
    w.ob("aborted before", ha_h=1.5, status=OBStatus.ABORTED)
    later = w.ob("window later", ha_h=-0.5)
    AbsoluteWindow.objects.create(
        ob=later, start=w.at + dt.timedelta(hours=2), end=w.at + dt.timedelta(hours=4)
    )
    AbsoluteWindow.objects.create(
        ob=later, start=w.at - dt.timedelta(hours=30), end=w.at - dt.timedelta(hours=26)
    )
    now = w.ob("window now", ha_h=0.2)
    AbsoluteWindow.objects.create(
        ob=now, start=w.at - dt.timedelta(hours=1), end=w.at + dt.timedelta(hours=1)
    )
    gone = w.ob("windows elsewhere", ha_h=0.3)
    AbsoluteWindow.objects.create(
        ob=gone, start=w.at + dt.timedelta(days=20), end=w.at + dt.timedelta(days=21)
    )
    lst = w.ob("sidereal", ha_h=0.1)
    SiderealWindow.objects.create(ob=lst, start_min=1380, end_min=120)
    SiderealWindow.objects.create(ob=lst, start_min=300, end_min=1440)
    # not candidates
    w.ob("partial", status=OBStatus.PARTIAL)
    w.ob("cancelled", status=OBStatus.CANCELLED)
    w.ob("completed", status=OBStatus.COMPLETED)
    w.ob("no execution time", execution_time_s=0.0)
    # a group: one OB completed
    group = w.container(run_a, ItemType.GROUP, "tiles")
    w.ob("tile 1", container=group, status=OBStatus.COMPLETED, contribution=1.0)
    w.ob("tile 2", container=group, contribution=1.0, ha_h=0.4)
    w.ob("tile 3", container=group, contribution=2.0, ha_h=0.6)
    # a time-link: the first OB executed two nights ago
    link = w.container(run_a, ItemType.TIMELINK, "monitoring")
    first = w.ob("epoch 1", container=link, status=OBStatus.COMPLETED)
    w.ob("epoch 2", container=link, min_delay_s=86400, max_delay_s=5 * 86400, ha_h=-0.3)
    w.ob("epoch 3", container=link, min_delay_s=3600, ha_h=-0.4)
    w.execute(first, w.at - dt.timedelta(days=2, hours=1))
    # a concatenation
    concat = w.container(run_a, ItemType.CONCATENATION, "back to back")
    w.ob("part 2", container=concat, ha_h=-1.0, execution_time_s=1200.0)
    part1 = w.ob("part 1", container=concat, ha_h=-1.0, execution_time_s=600.0)
    ObservationBlock.objects.filter(pk=part1.pk).update(position=0)
    # run B (class A, ungraded)
    w.ob("run B", run=run_b, ha_h=0.8, user_priority=1)
    # another telescope
    other = TelescopeFactory.create(name="UT2")
    run_c = RunFactory.create(
        proposal=proposal_a,
        letter="C",
        telescope=other,
        instrument=InstrumentFactory.create(telescope=other),
    )
    run_decide(
        run_id=run_c.pk, actor=staff, approved=True, rank_class="A", hours=1.0, send_outcome=False
    )
    w.ob("elsewhere", run=run_c)
    return w


def _panel(proposal: Proposal) -> Panel:
    return Panel.objects.create(
        period=proposal.period,
        name="Cosmology",
        category="C",
        deadline=dt.datetime(2030, 1, 1, tzinfo=UTC),
    )


# ---------------------------------------------------------------------------------------------
# The reference: Candidate objects from model instances, then CandidateArrays.build
# ---------------------------------------------------------------------------------------------


def _time(d: dt.datetime) -> Time:
    return Time(d.astimezone(UTC).replace(tzinfo=None), scale="utc")


def reference_candidates(telescope: Telescope, night: dt.date) -> list[Candidate]:
    """The same rules written the slow way, one OB object at a time."""
    site = telescope.site.as_astro()
    lo, hi = night_span_mjd(site, night)
    out = []
    obs = (
        ObservationBlock.objects.filter(
            run__telescope=telescope, run__decision__approved=True, status__in=CANDIDATE
        )
        .select_related("container", "run__decision", "run__proposal")
        .prefetch_related("absolute", "sidereal")
        .order_by("pk")
    )
    for ob in obs:
        run = ob.run
        if sum(e.seconds for e in LedgerEntry.objects.filter(run=run)) <= 0:
            continue
        if ob.ra_deg is None or ob.dec_deg is None or ob.execution_time_s <= 0:
            continue
        chair = PanelGrade.objects.filter(proposal=run.proposal).first()
        windows = [(_time(w.start), _time(w.end)) for w in ob.absolute.all()]
        tonight = tuple(
            (s, e) for s, e in windows if e.mjd > lo and s.mjd < hi
        )  # the span of the night
        if windows and not tonight:
            tonight = ((Time(lo - 1.0, format="mjd"), Time(lo - 0.5, format="mjd")),)
        group = link = concat = None
        box = ob.container
        members = list(box.obs.order_by("position", "pk"))
        order = [m.pk for m in members].index(ob.pk)
        if box.item_type == ItemType.GROUP:
            total = sum(m.contribution for m in members)
            done = sum(m.contribution for m in members if m.status == OBStatus.COMPLETED)
            group = GroupMembership(str(box.pk), ob.contribution / total, done / total)
        elif box.item_type == ItemType.TIMELINK:
            earliest = latest = None
            if order > 0:
                last = (
                    Execution.objects.filter(
                        ob=members[order - 1], grade__in=COMPLETING, ended_at__isnull=False
                    )
                    .order_by("-ended_at")
                    .first()
                )
                if last is not None and last.ended_at is not None:
                    earliest = _time(last.ended_at + dt.timedelta(seconds=ob.min_delay_s))
                    if ob.max_delay_s is not None:
                        latest = _time(last.ended_at + dt.timedelta(seconds=ob.max_delay_s))
            link = TimeLinkMembership(
                str(box.pk),
                order,
                earliest=earliest,
                latest=latest,
                min_delay_s=float(ob.min_delay_s),
                max_delay_s=float("inf") if ob.max_delay_s is None else float(ob.max_delay_s),
            )
        elif box.item_type == ItemType.CONCATENATION:
            concat = ConcatenationMembership(str(box.pk), order)
        out.append(
            Candidate(
                id=str(ob.pk),
                ra_deg=ob.ra_deg,
                dec_deg=ob.dec_deg,
                execution_time_s=ob.execution_time_s,
                constraints=ConstraintSet(
                    max_airmass=ob.max_airmass,
                    min_moon_distance_deg=ob.min_moon_distance_deg,
                    max_fli=ob.max_fli,
                    max_seeing_arcsec=ob.seeing_arcsec,
                    min_transparency=Transparency.parse(ob.sky_transparency),
                    twilight_offset_min=ob.twilight_min,
                ),
                pm_ra_mas_yr=ob.pm_ra * 1000.0,
                pm_dec_mas_yr=ob.pm_dec * 1000.0,
                epoch_jyear=ob.epoch,
                absolute_windows=tonight,
                lst_windows=tuple((w.start_min / 60, w.end_min / 60) for w in ob.sidereal.all()),
                user_priority=ob.user_priority,
                rank_class=RunDecision.objects.get(run=run).rank_class or "A",
                grade=float(chair.grade) if chair else 3.0,
                group=group,
                time_link=link,
                concatenation=concat,
            )
        )
    return out


#: Fields holding MJD: equal to astropy's conversion within the resolution of a double (~1 us).
TIME_FIELDS = {"abs_start_mjd", "abs_end_mjd", "link_earliest_mjd", "link_latest_mjd"}


def assert_arrays_equal(ours: CandidateArrays, reference: CandidateArrays) -> None:
    for name in CandidateArrays.__dataclass_fields__:
        if name == "cache":
            continue
        a, b = getattr(ours, name), getattr(reference, name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype, name
            assert a.shape == b.shape, name
            if name in TIME_FIELDS:
                np.testing.assert_allclose(a, b, rtol=0, atol=2e-11, err_msg=name)
            else:
                np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a == b, name


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------


def test_arrays_equal_those_built_from_candidate_objects(world: World) -> None:
    # given the world's OBs as Candidate objects
    reference = CandidateArrays.build(reference_candidates(world.telescope, world.night))
    # when the adapter builds the arrays from query values
    arrays, index = build_arrays(world.telescope.pk, world.night)
    # then every field is equal, windows, groups, links and concatenations included
    assert_arrays_equal(arrays, reference)
    assert len(arrays) == 18
    assert arrays.has_abs.sum() == 3 and arrays.has_lst.sum() == 1
    assert len(arrays.group_ids) == len(arrays.link_ids) == len(arrays.concat_ids) == 1
    # and the index names each row
    row = index.row_of[world.obs["tile 3"].pk]
    assert index.names[row] == "tile 3"
    assert index.containers[int(index.container_ids[row])].name == "tiles"
    assert index.runs[int(index.run_ids[row])].label == "130.C-0001(A)"


def test_arrays_equal_with_many_containers_filled_out_of_order(world: World) -> None:
    # given two groups, two time-links and two concatenations of run A whose OBs were
    # created interleaved and out of their container order, some completed or executed
    kinds = [ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION]
    boxes = [world.container(world.run_a, k, f"{k} {i}") for i in range(2) for k in kinds]
    rng = np.random.default_rng(5)
    for j in range(36):
        box = boxes[int(rng.integers(0, len(boxes)))]
        done = box.item_type != ItemType.CONCATENATION and rng.random() < 0.25
        ob = world.ob(
            f"mixed {j}",
            container=box,
            status=OBStatus.COMPLETED if done else OBStatus.ACCEPTED,
            ha_h=float(rng.uniform(-3, 3)),
            contribution=float(rng.choice([0.5, 1.0, 2.0])),
            min_delay_s=int(rng.integers(0, 86400)),
            max_delay_s=None if rng.random() < 0.3 else 4 * 86400,
        )
        ObservationBlock.objects.filter(pk=ob.pk).update(position=int(rng.integers(0, 50)))
        if done and box.item_type == ItemType.TIMELINK:
            world.execute(ob, world.at - dt.timedelta(hours=float(rng.uniform(2, 60))))
    # when the adapter builds the arrays
    arrays, _ = build_arrays(world.telescope.pk, world.night)
    # then they equal those built from Candidate objects
    reference = CandidateArrays.build(reference_candidates(world.telescope, world.night))
    assert_arrays_equal(arrays, reference)
    assert len(arrays.group_ids) == len(arrays.link_ids) == len(arrays.concat_ids) == 3


def test_group_score_and_contributions_come_from_the_records(world: World) -> None:
    # when the arrays are built
    arrays, index = build_arrays(world.telescope.pk, world.night)
    # then the group's score is the completed contribution over all (1 of 1 + 1 + 2)
    assert arrays.group_score.tolist() == [0.25]
    rows = [index.row_of[world.obs[n].pk] for n in ("tile 2", "tile 3")]
    assert arrays.contribution[rows].tolist() == [0.25, 0.5]


def test_time_link_window_opens_from_the_previous_execution(world: World) -> None:
    # given epoch 1 executed two nights ago (graded A)
    ended = world.at - dt.timedelta(days=2, hours=1)
    # when the arrays are built
    arrays, index = build_arrays(world.telescope.pk, world.night)
    # then epoch 2 may start from 1 to 5 days after it; epoch 3 waits for epoch 2
    two = index.row_of[world.obs["epoch 2"].pk]
    three = index.row_of[world.obs["epoch 3"].pk]
    assert arrays.link_order[[two, three]].tolist() == [1, 2]
    assert arrays.link_earliest_mjd[two] == pytest.approx(_time(ended).mjd + 1.0, abs=1e-9)
    assert arrays.link_latest_mjd[two] == pytest.approx(_time(ended).mjd + 5.0, abs=1e-9)
    assert np.isnan(arrays.link_earliest_mjd[three]) and np.isnan(arrays.link_latest_mjd[three])


def test_only_a_completing_execution_opens_the_next_window(world: World) -> None:
    # given epoch 2 executed three times: aborted, graded C (to be repeated), not yet graded
    two = world.obs["epoch 2"]
    aborted = world.execute(two, world.at - dt.timedelta(hours=7))
    Execution.objects.filter(pk=aborted.pk).update(aborted=True, grade="")
    world.execute(two, world.at - dt.timedelta(hours=5), grade="C")
    running = world.execute(two, world.at - dt.timedelta(hours=3))
    Execution.objects.filter(pk=running.pk).update(grade="")
    # when the arrays are built
    arrays, index = build_arrays(world.telescope.pk, world.night)
    three = index.row_of[world.obs["epoch 3"].pk]
    # then epoch 3 is still pending
    assert np.isnan(arrays.link_earliest_mjd[three])
    # and when the last one is graded B, its window opens an hour after it
    Execution.objects.filter(pk=running.pk).update(grade="B")
    arrays, index = build_arrays(world.telescope.pk, world.night)
    opens = _time(world.at - dt.timedelta(hours=3)).mjd + 1 / 24
    assert arrays.link_earliest_mjd[three] == pytest.approx(opens, abs=1e-9)
    assert np.isnan(arrays.link_latest_mjd[three])  # no maximum delay


def test_runs_without_time_left_are_left_out_and_named(world: World) -> None:
    # given run B charged its whole allocation
    LedgerEntry.objects.create(run=world.run_b, kind=LedgerKind.CHARGE, seconds=-7200)
    # when the arrays are built
    arrays, index = build_arrays(world.telescope.pk, world.night)
    # then its OB is not a candidate and the run is named
    assert world.obs["run B"].pk not in index.row_of
    assert index.exhausted_runs == (world.run_b.pk,)
    assert index.runs[world.run_b.pk].balance_s == 0
    assert_arrays_equal(
        arrays, CandidateArrays.build(reference_candidates(world.telescope, world.night))
    )


def test_obs_the_engine_cannot_take_are_skipped_with_a_reason(world: World) -> None:
    # when the arrays are built
    _, index = build_arrays(world.telescope.pk, world.night)
    # then the OB without execution time is named, not ranked
    assert index.skipped == ((world.obs["no execution time"].pk, "no execution time"),)


def test_windows_outside_the_night_leave_the_ob_outside_its_windows(world: World) -> None:
    # when the arrays are built
    arrays, index = build_arrays(world.telescope.pk, world.night)
    # then the OB whose only window is in 20 days keeps one window, before the night
    row = index.row_of[world.obs["windows elsewhere"].pk]
    lo, _ = night_span_mjd(world.site, world.night)
    assert arrays.has_abs[row]
    assert arrays.abs_end_mjd[row, 0] < lo and np.isnan(arrays.abs_start_mjd[row, 1:]).all()
    # and the window of 30 h ago is dropped, the one later tonight kept
    later = index.row_of[world.obs["window later"].pk]
    assert np.count_nonzero(~np.isnan(arrays.abs_start_mjd[later])) == 1


def test_arrays_are_built_with_constant_queries(world: World) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            build_arrays(world.telescope.pk, world.night)
        return len(captured)

    # given 10 more OBs
    _bulk_obs(world, 10)
    ten = queries()
    # when there are 200 more
    _bulk_obs(world, 190)
    # then the build takes as many queries, and the probe one
    assert queries() == ten
    with CaptureQueriesContext(connection) as captured:
        probe(world.telescope.pk)
    assert len(captured) == 1


def _bulk_obs(world: World, n: int) -> None:
    group = world.container(world.run_a, ItemType.GROUP, f"bulk {n}")
    obs = ObservationBlock.objects.bulk_create(
        ObservationBlock(
            run=world.run_a,
            container=group if i % 2 else world.root(world.run_a),
            name=f"bulk {n}.{i}",
            status=OBStatus.ACCEPTED,
            ra_deg=(world.lst_deg + i) % 360.0,
            dec_deg=-50.0,
            execution_time_s=1200.0,
        )
        for i in range(n)
    )
    AbsoluteWindow.objects.bulk_create(
        AbsoluteWindow(ob=ob, start=world.at, end=world.at + dt.timedelta(hours=1)) for ob in obs
    )


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


def _checkout(cache: NightCache, world: World) -> tuple[CandidateArrays, bool]:
    state = probe(world.telescope.pk)
    with cache.checkout(world.telescope.pk, world.night, state) as out:
        return out.entry.arrays, out.hit


def test_unchanged_data_hands_out_the_same_arrays(world: World) -> None:
    # given arrays built once
    cache = NightCache()
    first, hit = _checkout(cache, world)
    assert not hit
    # when asked again
    again, hit = _checkout(cache, world)
    # then the very same object comes back, without a rebuild
    assert hit and again is first and cache.builds == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda w: ObservationBlock.objects.filter(pk=w.obs["meridian"].pk).update(
                max_airmass=1.3, version=F("version") + 1
            ),
            id="ob-edit",
        ),
        pytest.param(
            lambda w: ObservationBlock.objects.filter(pk=w.obs["meridian"].pk).update(
                status=OBStatus.STARTED
            ),
            id="status-change-without-version",
        ),
        pytest.param(lambda w: w.execute(w.obs["epoch 2"], w.at), id="new-execution"),
        pytest.param(
            lambda w: Execution.objects.filter(ob=w.obs["epoch 1"]).update(grade=""),
            id="execution-regraded",
        ),
        pytest.param(
            lambda w: LedgerEntry.objects.create(
                run=w.run_b, kind=LedgerKind.CHARGE, seconds=-7200
            ),
            id="ledger-charge",
        ),
        pytest.param(
            lambda w: (
                AbsoluteWindow.objects.filter(ob=w.obs["window now"]).delete()
                and ObservationBlock.objects.filter(pk=w.obs["window now"].pk).update(
                    version=F("version") + 1
                )
            ),
            id="window-removed",
        ),
    ],
)
def test_a_change_rebuilds_the_arrays(world: World, change: Callable[[World], object]) -> None:
    # given cached arrays
    cache = NightCache()
    first, _ = _checkout(cache, world)
    # when the data changes
    change(world)
    # then the next checkout rebuilds them, equal to the reference again
    again, hit = _checkout(cache, world)
    assert not hit and again is not first and cache.builds == 2
    assert_arrays_equal(
        again, CandidateArrays.build(reference_candidates(world.telescope, world.night))
    )


def test_an_ob_edit_changes_the_ranking_input(world: World) -> None:
    # given cached arrays
    cache = NightCache()
    _checkout(cache, world)
    ob = world.obs["meridian"]
    # when the OB's airmass limit is edited (its version bumped, as every write does)
    ObservationBlock.objects.filter(pk=ob.pk).update(max_airmass=1.1, version=F("version") + 1)
    arrays, _ = _checkout(cache, world)
    # then the arrays hold the new limit
    assert arrays.max_airmass[arrays.ids.tolist().index(str(ob.pk))] == 1.1


def test_a_draft_group_member_s_contribution_edit_rebuilds_the_arrays(world: World) -> None:
    from observations.commands import OBData
    from observations.services import ob_update

    # given a group with a member still being prepared (Phase 2 open), and cached arrays
    Proposal.objects.filter(pk=world.run_a.proposal_id).update(status=ProposalStatus.APPROVED)
    group = Container.objects.get(name="tiles")
    draft = world.ob("tile 4", container=group, status=OBStatus.PARTIAL, contribution=1.0)
    cache = NightCache()
    _checkout(cache, world)
    # when its PI changes the draft's share of the group (not a candidate: only the group's
    # score, the candidates' shares, depend on it)
    ob_update(ob_id=draft.pk, data=OBData(contribution=4.0), actor=world.run_a.proposal.pi)
    arrays, hit = _checkout(cache, world)
    # then the arrays are rebuilt with the tiles' new shares
    assert not hit
    assert_arrays_equal(
        arrays, CandidateArrays.build(reference_candidates(world.telescope, world.night))
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_build_the_arrays_once() -> None:
    # given a world and four requests arriving together on an empty cache
    world = make_world()
    cache = NightCache()
    start = threading.Barrier(4)
    answers: list[bool] = []

    def request() -> None:
        try:
            start.wait()
            result = rank_for(
                world.telescope.pk, world.at, CONDITIONS, RankingOptions(), cache=cache
            )
            answers.append(result.cache_hit)
        finally:
            connection.close()  # this thread's connection

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one built the arrays and the three others ranked on them
    assert cache.builds == 1 and sorted(answers) == [False, True, True, True]


def test_each_night_has_its_own_arrays(world: World) -> None:
    # given the arrays of tonight
    cache = NightCache()
    state = probe(world.telescope.pk)
    with cache.checkout(world.telescope.pk, world.night, state) as tonight:
        pass
    # when tomorrow's are asked for
    with cache.checkout(world.telescope.pk, world.night + dt.timedelta(days=1), state) as nxt:
        pass
    # then they are built for that night
    assert not nxt.hit and nxt.entry.arrays is not tonight.entry.arrays
    assert nxt.entry.index.night == world.night + dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------------


CONDITIONS = Conditions(seeing_arcsec=0.8, transparency=Transparency.CLEAR, wind_speed_ms=3.0)


def test_rank_for_ranks_with_justification_and_reasons(world: World) -> None:
    # when the telescope is ranked at local midnight
    cache = NightCache()
    result = rank_for(world.telescope.pk, world.at, CONDITIONS, RankingOptions(), cache=cache)
    ranked = {r.name: r for r in result.ranked}
    filtered = {f.name: f for f in result.filtered}
    # then the run of class A ranks first, then by score; each score is its justification
    assert result.night == world.night and not result.cache_hit and result.build_ms > 0
    assert result.ranked[0].name == "run B" and result.ranked[0].run == "130.C-0002(A)"
    assert [r.score for r in result.ranked] == sorted(
        (r.score for r in result.ranked), reverse=True
    )
    for r in result.ranked:
        assert r.score == pytest.approx(sum(r.components.values()))
    assert ranked["tile 2"].components["group"] == pytest.approx(2.0 + 6.0 * 0.25)
    assert ranked["tile 2"].container == "tiles" and ranked["tile 2"].container_type == "Group"
    assert {"meridian", "window now", "epoch 2", "thin", "sidereal"} <= set(ranked)
    # and the concatenation is ranked as one
    part1, part2 = world.obs["part 1"].pk, world.obs["part 2"].pk
    concatenated = [r for r in result.ranked if r.concatenation]
    assert {r.concatenation for r in concatenated} == {(part1, part2)}
    # and the filtered OBs say why, and when they open
    assert "transparency" in [r.code for r in filtered["photometric"].reasons]
    assert filtered["epoch 3"].reasons[0].code == "time_link_previous_pending"
    assert [r.code for r in filtered["windows elsewhere"].reasons] == ["absolute_window"]
    opens = filtered["window later"].observable_from
    assert opens is not None
    assert world.at + dt.timedelta(hours=2) <= opens <= world.at + dt.timedelta(hours=2, minutes=10)
    assert filtered["daytime"].observable_from is None
    assert result.ranked_total + result.filtered_total == 18
    assert result.never_tonight == 1  # "daytime" stays below its airmass limit all night
    assert result.needs_better_weather == 2  # "east" (seeing), "photometric"
    # listed: those that may still open tonight, then those needing better weather, then the
    # rest, each by rank class, grade, user priority and OB
    assert [f.name for f in result.filtered] == [
        "rises late",
        "window later",
        "windows elsewhere",
        "epoch 3",
        "east",
        "photometric",
        "daytime",
    ]
    assert result.exhausted_runs == ()


def test_rank_for_answers_as_the_engine_on_all_candidates(world: World) -> None:
    # given the engine's ranking of every candidate, none left out
    arrays, index = build_arrays(world.telescope.pk, world.night)
    when = _time(world.at)
    engine = rank(arrays, site=world.site, time=when, conditions=CONDITIONS)
    # when the telescope is ranked through the adapter, every row asked for
    result = rank_for(
        world.telescope.pk,
        world.at,
        CONDITIONS,
        RankingOptions(),
        limit=None,
        filtered_limit=None,
        cache=NightCache(),
    )
    # then the ranked OBs, scores and justifications are the engine's
    ob = [int(i) for i in arrays.ids]
    assert [r.ob_id for r in result.ranked] == [ob[i] for i in engine.order]
    assert [r.score for r in result.ranked] == pytest.approx(engine.scores.tolist())
    # and so are the filtered OBs, their reasons and when they open
    expected = {
        int(f.id): (
            f.reasons,
            None if f.observable_from is None else round(f.observable_from.utc.mjd * 1440),
        )
        for f in engine.filtered
    }
    got = {
        f.ob_id: (
            list(f.reasons),
            None if f.observable_from is None else round(_time(f.observable_from).mjd * 1440),
        )
        for f in result.filtered
    }
    assert got == expected and result.filtered_total == len(expected)


def test_a_second_request_ranks_on_the_cached_arrays(world: World) -> None:
    # given a first ranking
    cache = NightCache()
    first = rank_for(world.telescope.pk, world.at, CONDITIONS, RankingOptions(), cache=cache)
    # when the same telescope is ranked a minute later
    later = world.at + dt.timedelta(minutes=1)
    with CaptureQueriesContext(connection) as captured:
        second = rank_for(world.telescope.pk, later, CONDITIONS, RankingOptions(), cache=cache)
    # then the arrays are not rebuilt: one query, no build time
    assert second.cache_hit and second.build_ms == 0.0 and len(captured) == 1
    assert [r.ob_id for r in second.ranked][:3] == [r.ob_id for r in first.ranked][:3]


def test_rank_for_limits_the_rows_but_counts_them_all(world: World) -> None:
    # when two rows of each are asked for
    result = rank_for(
        world.telescope.pk,
        world.at,
        CONDITIONS,
        RankingOptions(),
        limit=2,
        filtered_limit=2,
        observable_from=False,
        cache=NightCache(),
    )
    # then two are given, the totals count all
    assert len(result.ranked) == 2 and [f.name for f in result.filtered] == [
        "rises late",
        "window later",
    ]
    assert result.ranked_total > 2 and result.filtered_total > 2
    assert all(f.observable_from is None for f in result.filtered)


def test_the_night_is_the_local_evening_date(world: World) -> None:
    # Paranal is 4h42m behind Greenwich in mean solar time
    evening = dt.datetime(2027, 3, 10, 23, 0, tzinfo=UTC)  # 18:18 local
    morning = dt.datetime(2027, 3, 11, 10, 0, tzinfo=UTC)  # 05:18 local
    noon = dt.datetime(2027, 3, 11, 17, 0, tzinfo=UTC)  # 12:18 local: the next night
    assert evening_date(world.site, evening) == dt.date(2027, 3, 10)
    assert evening_date(world.site, morning) == dt.date(2027, 3, 10)
    assert evening_date(world.site, noon) == dt.date(2027, 3, 11)


def test_rank_for_refuses_a_naive_time(world: World) -> None:
    with pytest.raises(ValueError, match="aware"):
        rank_for(world.telescope.pk, dt.datetime(2027, 3, 11), CONDITIONS, RankingOptions())


def test_an_unknown_telescope_is_refused(world: World) -> None:
    with pytest.raises(Telescope.DoesNotExist):
        rank_for(999_999, dt.datetime(2027, 3, 11, tzinfo=UTC), CONDITIONS, RankingOptions())
