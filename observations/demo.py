"""The demo period's Phase 2 (``seed_demo``), walked through the services as its users would.

For each approved service-mode run its PI builds OBs whose execution times fill 72-97 % of the
run's allocation, each just over the one-hour service-mode minimum (filler runs, rank class C,
plan short OBs whose minimum staff waive): an acquisition, science
and sometimes calibration template of the instrument with values in their ranges, the target
copied from the run's Phase 1 targets, constraints equal to or looser than the Phase 1 ones.
As in p2, an OB is built once per target and duplicated (renamed, a constraint relaxed here
and there). Some runs get a Concatenation, a Group and a Time-link; the other OBs go in target
folders (or the root folder); a few have absolute time windows on nights their target is
visible. The PI submits the run's tree, staff send a few OBs back with a message and accept
most folders, leaving some to review (D); some PIs keep a folder of OBs in preparation (P).
Visitor-mode runs get no scheduling containers; half get a few OBs in their root folder.

Only ``observations.services`` and ``observations.ob_parts`` write; template values are planned
with the pure execution-time model (``observations.exectime``), so each OB's time is known
before it is built. Deterministic for a given ``rng``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, QuerySet, Sum

from dataflow.astro.visibility import NightlyVisibility, nightly_visibility
from dataflow.errors import InvalidInput
from observations import access, ob_parts, rules, services
from observations.commands import ItemRef, OBData
from observations.demo_planner import Kit, Planner
from observations.models import (
    AbsoluteWindow,
    Container,
    ItemType,
    ObservationBlock,
    SkyTransparency,
    TemplateType,
)
from observations.status import ACCEPTED, DEFINED, PARTIAL, REPAIR
from observations.verification import SHORT_OB_S
from proposals.models import Mode, ObservingRun, Period, Target
from proposals.review.services import allocated_seconds

HOUR = 3600.0
FILL = (0.72, 0.97)
"""Fraction of a service-mode run's allocation its OBs take (drawn per run)."""
SM_OB_HOURS = (1.03, 1.5)
"""Planned execution time of a service-mode OB, hours: just over the minimum, as most are."""
MIN_SM_OB_S = 1.02 * HOUR
"""A service-mode OB is planned only in at least this much time (the minimum and a margin)."""
FILLER_OB_HOURS = (0.4, 0.75)
"""Filler runs (rank class C) plan short OBs, as ESO's fillers and monitoring programmes do
to keep a night's gaps busy; staff waive their one-hour minimum before the PI submits."""
FILLER_MIN_OB_S, FILLER_SHORTEST_S = 0.4 * HOUR, 0.25 * HOUR
"""A filler OB is planned only in at least ``FILLER_MIN_OB_S`` and takes at least
``FILLER_SHORTEST_S`` (every instrument's acquisition and one exposure fit in it)."""
VM_OB_HOURS = (0.4, 1.5)
UNREVIEWED, SENT_BACK, DRAFTS = 0.08, 0.06, 0.25
"""Shares: folders staff have not reviewed yet (their OBs stay D), OBs staff send back (-),
service-mode runs whose PI keeps a folder of OBs in preparation (P)."""
SEND_BACK_MESSAGES = [
    "The acquisition needs a finding chart with the slit orientation marked: attach one.",
    "The exposures saturate on this target in the requested seeing: shorten the DIT.",
    "The offsets move the target off the detector: keep them within the field of view.",
    "The OB is longer than the target stays below the requested airmass in one night: "
    "split it in two OBs.",
    "The instrument setup differs from the one approved in Phase 1: use the approved grism "
    "or ask for a change of setup.",
    "The sky offset lands on a bright neighbour: move it by a few arcminutes.",
]
IR_INSTRUMENTS = {"KMOS", "HAWK-I", "VISIR", "VIRCAM", "SPHERE"}
"""Their OBs may start in twilight (a negative twilight offset)."""
_SKY_LOOSER = {
    SkyTransparency.PHOTOMETRIC: SkyTransparency.CLEAR,
    SkyTransparency.CLEAR: SkyTransparency.THIN,
    SkyTransparency.THIN: SkyTransparency.VARIABLE,
    SkyTransparency.VARIABLE: SkyTransparency.VARIABLE,
}


@dataclasses.dataclass
class Counts:
    """What the period's Phase 2 holds after the walk (printed by ``seed_demo``)."""

    runs: int
    obs: int
    by_status: dict[str, int]
    by_container: dict[str, int]
    hours: float
    windows: int
    refused: int  # OBs verification refused on submission (left in P): 0 when all is well

    @classmethod
    def of(cls, period: Period, *, runs: int, refused: int) -> Counts:
        obs = ObservationBlock.objects.filter(run__proposal__period=period)
        containers = Container.objects.filter(run__proposal__period=period, parent__isnull=False)
        return cls(
            runs=runs,
            obs=obs.count(),
            by_status=dict(obs.values_list("status").annotate(n=Count("pk")).order_by()),
            by_container=dict(
                containers.values_list("item_type").annotate(n=Count("pk")).order_by()
            ),
            hours=(obs.aggregate(s=Sum("execution_time_s"))["s"] or 0.0) / HOUR,
            windows=AbsoluteWindow.objects.filter(ob__in=obs).values("ob").distinct().count(),
            refused=refused,
        )

    def summary(self) -> str:
        statuses = ", ".join(
            f"{s} {self.by_status.get(s, 0)}" for s in (ACCEPTED, DEFINED, REPAIR, PARTIAL)
        )
        kinds = ", ".join(
            f"{self.by_container.get(k, 0)} {k}s"
            for k in (ItemType.FOLDER, ItemType.GROUP, ItemType.TIMELINK, ItemType.CONCATENATION)
        )
        refused = f"; {self.refused} refused by verification" if self.refused else ""
        return (
            f"{self.obs} OBs ({statuses}; {self.hours:.0f} h) in {self.runs} runs, {kinds}, "
            f"{self.windows} OBs with time windows{refused}"
        )


def walk(period: Period, *, staff: User, rng: np.random.Generator) -> Counts:
    """Give every approved run of ``period`` whose root folder is still empty its OBs."""
    runs = (
        ObservingRun.objects.filter(access.open_runs_q(), proposal__period=period)
        .select_related("proposal__pi", "proposal__period", "telescope__site", "instrument")
        .prefetch_related("targets")
        .order_by("pk")
    )
    kits: dict[int, Kit] = {}
    built = refused = 0
    containers_made: dict[str, int] = {}
    for run in runs:
        targets = list(run.targets.all())
        root = services.root_folder(run=run)
        if not targets or root.children.exists() or root.obs.exists():
            continue  # nothing to observe, or built before: the walk is idempotent
        if run.instrument_id not in kits:
            kits[run.instrument_id] = Kit.load(run.instrument_id, services.current_ip_version(run))
        if not kits[run.instrument_id].sciences:
            continue
        # One transaction per run: the services' own become savepoints, much cheaper on
        # SQLite than a commit each; a run is built entirely or not at all.
        with transaction.atomic():
            kit = kits[run.instrument_id]
            builder = _RunBuilder(run, root, targets, kit, staff, rng, containers_made)
            made = builder.service_mode() if run.mode == Mode.SM else builder.visitor_mode()
        built += made
        refused += builder.refused
    return Counts.of(period, runs=built, refused=refused)


@dataclasses.dataclass(frozen=True)
class _Proto:
    """An OB built in full, which the PI duplicates for more of the same."""

    ob_id: int
    seconds: float
    mode: str
    target: Target


class _RunBuilder:
    def __init__(
        self,
        run: ObservingRun,
        root: Container,
        targets: list[Target],
        kit: Kit,
        staff: User,
        rng: np.random.Generator,
        containers: dict[str, int],
    ) -> None:
        self.run, self.root, self.targets, self.kit = run, root, targets, kit
        self.pi: User = run.proposal.pi
        self.staff, self.rng = staff, rng
        self.remaining = 0.0  # seconds still to plan
        self.refused = 0
        self.containers = containers  # made so far by the walk, by type
        self._visibility: NightlyVisibility | None = None
        self._serial = 0
        # The OBs' planned hours and least time: short for fillers (see FILLER_OB_HOURS).
        decision = getattr(run, "decision", None)
        self.filler = run.mode == Mode.SM and decision is not None and decision.rank_class == "C"
        self.ob_hours = FILLER_OB_HOURS if self.filler else SM_OB_HOURS
        self.min_ob_s = FILLER_MIN_OB_S if self.filler else MIN_SM_OB_S

    # ----------------------------------------------------------------------------------------
    # Runs
    # ----------------------------------------------------------------------------------------

    def service_mode(self) -> int:
        """Build, submit and review a service-mode run's OBs; 1 if it got any."""
        allocated = allocated_seconds(self.run)
        budget = allocated * self._uniform(*FILL)
        if budget < self.ob_hours[0] * HOUR:  # a small allocation: one OB of what there is
            budget = allocated
        if budget < self.min_ob_s:
            return 0
        drafts = 0.0
        if budget >= 4 * self.ob_hours[1] * HOUR and self.rng.random() < DRAFTS:
            drafts = self._uniform(1.0, 2.5) * self.ob_hours[1] * HOUR
        self.remaining = budget - drafts
        # The containers are planned on the longest OBs, so all of their OBs fit the budget.
        room = int(self.remaining // (self.ob_hours[1] * HOUR))
        if room >= 2 and self._wants(ItemType.CONCATENATION, 0.3):
            self._concatenation(self.targets[0])
            room -= 2
        if room >= 3 and self._wants(ItemType.GROUP, 0.35):
            size = int(self.rng.integers(3, min(room, 5) + 1))
            self._group(size)
            room -= size
        if room >= 2 and self._wants(ItemType.TIMELINK, 0.3):
            self._timelink(self.targets[-1], int(self.rng.integers(2, min(room, 4) + 1)))
        self._fill(self._folders())
        if self.filler:
            self._waive_short()
        self._submit()
        self._review()
        if drafts:
            self._drafts(drafts)
        return 1

    def visitor_mode(self) -> int:
        """A few OBs in the root folder (visitors have no scheduling containers), shorter
        than the service-mode minimum, which does not apply to them; most accepted."""
        if self.rng.random() < 0.5:
            return 0
        proto = self._new(self.root, self.targets[0], self._uniform(*VM_OB_HOURS) * HOUR, 0.0)
        for k in range(1, int(self.rng.integers(2, 6))):
            self._copy(proto, self.targets[k % len(self.targets)])
        if self.rng.random() < 0.8:
            self._submit()
            services.container_accept(container_id=self.root.pk, actor=self.staff)
        return 1

    # ----------------------------------------------------------------------------------------
    # Containers
    # ----------------------------------------------------------------------------------------

    def _wants(self, item_type: str, share: float) -> bool:
        """``share`` of the runs that can hold one, and the first run that can."""
        return self.rng.random() < share or not self.containers.get(item_type)

    def _container(self, item_type: str, name: str) -> Container:
        self.containers[item_type] = self.containers.get(item_type, 0) + 1
        return services.container_create(
            parent_id=self.root.pk, item_type=item_type, name=name, actor=self.pi
        )

    def _folders(self) -> dict[int, Container]:
        """A folder per target for most runs with several targets, one folder for most
        others; a few keep their OBs in the root folder."""
        draw = self.rng.random()
        if len(self.targets) >= 2 and draw < 0.6:
            return {t.pk: self._container(ItemType.FOLDER, t.name) for t in self.targets}
        if draw < 0.8:
            folder = self._container(ItemType.FOLDER, "Science")
            return {t.pk: folder for t in self.targets}
        return {}

    def _concatenation(self, target: Target) -> None:
        """Two OBs back to back (e.g. two setups of one target): well inside one night."""
        container = self._container(ItemType.CONCATENATION, f"{target.name} back to back")
        proto = self._new(container, target, self._ob_seconds())
        self._copy(proto)

    def _group(self, size: int) -> None:
        """A sample observed as a group: each OB adds its contribution to the group's score."""
        container = self._container(ItemType.GROUP, "Sample")
        contributions = [float(self.rng.choice([1.0, 1.0, 2.0, 3.0])) for _ in range(size)]
        proto = self._new(
            container,
            self.targets[0],
            self._ob_seconds(),
            extra={"contribution": contributions[0]},
        )
        for k in range(1, size):
            target = self.targets[k % len(self.targets)]
            self._copy(proto, target, extra={"contribution": contributions[k]})

    def _timelink(self, target: Target, size: int) -> None:
        """Monitoring: each epoch some days after the previous one (e.g. 1 d .. 3 d)."""
        container = self._container(ItemType.TIMELINK, f"{target.name} monitoring")
        low, high = [(1, 3), (1, 3), (2, 5), (3, 7)][int(self.rng.integers(4))]
        delays = {"min_delay_s": low * 86400, "max_delay_s": high * 86400}
        proto = self._new(container, target, self._ob_seconds())
        for _ in range(1, size):
            self._copy(proto, extra=delays)

    def _fill(self, folders: dict[int, Container]) -> None:
        """The rest of the budget, target after target: the first OB of a target built, most
        others duplicated from it; a few single OBs with time windows."""
        protos: dict[int, _Proto] = {}
        i = 0
        while self.remaining >= self.min_ob_s:
            target = self.targets[i % len(self.targets)]
            i += 1
            proto = protos.get(target.pk)
            if proto and proto.seconds <= self.remaining and self.rng.random() < 0.85:
                self._copy(proto)
                continue
            container = folders.get(target.pk, self.root)
            windows = proto is not None and self.rng.random() < 0.3
            made = self._new(container, target, self._ob_seconds(), windows=windows)
            if not windows:
                protos[target.pk] = made

    def _drafts(self, budget: float) -> None:
        """OBs the PI is still preparing (P): complete but not submitted, or only started."""
        self.remaining = budget
        folder = self._container(ItemType.FOLDER, "In preparation")
        while self.remaining >= self.min_ob_s:
            target = self.targets[int(self.rng.integers(len(self.targets)))]
            self._new(folder, target, self._ob_seconds(), complete=self.rng.random() < 0.5)

    # ----------------------------------------------------------------------------------------
    # OBs
    # ----------------------------------------------------------------------------------------

    def _ob_seconds(self) -> float:
        return min(self._uniform(*self.ob_hours) * HOUR, self.remaining)

    def _new(
        self,
        container: Container,
        target: Target,
        target_s: float,
        minimum_s: float | None = None,
        *,
        complete: bool = True,
        windows: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> _Proto:
        """Build an OB in full of at most ``target_s`` (and at least ``minimum_s``) execution
        time. ``complete`` False: the science is not added yet (the OB stays P)."""
        if minimum_s is None:  # the service-mode minimum, or a filler's least time
            minimum_s = FILLER_SHORTEST_S if self.filler else SHORT_OB_S
        planned, seconds = Planner(self.kit, self.rng).plan(target_s, minimum_s)
        science = next(s for s, _ in planned if s.type == TemplateType.SCIENCE)
        proto = _Proto(0, seconds, science.name.split("_", 1)[-1], target)
        ob = services.ob_create(
            container_id=container.pk, name=self._name(target, proto), actor=self.pi
        )
        services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=target.pk, actor=self.pi)
        data = self._constraints(extra or {})
        if data.sent():
            services.ob_update(ob_id=ob.pk, data=data, actor=self.pi)
        for signature, values in planned if complete else planned[:1]:
            template = services.template_add(
                ob_id=ob.pk, signature_name=signature.name, actor=self.pi
            )
            changed = {k: v for k, v in values.items() if template.values.get(k) != v}
            if changed:
                services.template_set_values(template_id=template.pk, values=changed, actor=self.pi)
        if windows:
            self._windows(ob, target)
        self.remaining -= seconds
        return dataclasses.replace(proto, ob_id=ob.pk)

    def _copy(
        self, proto: _Proto, target: Target | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        """Duplicate ``proto`` in its container, renamed, on another target if given."""
        copy = services.item_duplicate(item=ItemRef.ob(proto.ob_id), actor=self.pi)
        if target is not None:
            services.ob_copy_target_from_phase1(ob_id=copy.pk, target_id=target.pk, actor=self.pi)
        fields = dict(extra or {})
        fields["name"] = self._name(target or proto.target, proto)
        services.ob_update(ob_id=copy.pk, data=self._constraints(fields), actor=self.pi)
        self.remaining -= proto.seconds

    def _name(self, target: Target, proto: _Proto) -> str:
        self._serial += 1
        return f"{target.name} {proto.mode} {self._serial}"

    def _constraints(self, fields: dict[str, Any]) -> OBData:
        """About a third of the OBs relax a Phase 1 constraint (never tighten one: the
        long-term schedule was built on them); infrared ones may start in twilight."""
        run, rng = self.run, self.rng
        if rng.random() < 0.35:
            which = int(rng.integers(4))
            if which == 0:
                fields["max_airmass"] = round(min(run.max_airmass + self._tenths(), 5.0), 1)
            elif which == 1:
                fields["seeing_arcsec"] = round(
                    min(run.max_seeing_arcsec + self._tenths(), 10.0), 1
                )
            elif which == 2:
                fields["max_fli"] = round(min(run.max_fli + self._tenths(), 1.0), 2)
            else:
                phase1 = rules.phase1_constraints(run)["sky_transparency"]
                fields["sky_transparency"] = str(_SKY_LOOSER[SkyTransparency(phase1)])
        if run.instrument.name in IR_INSTRUMENTS and rng.random() < 0.3:
            fields["twilight_min"] = -30.0
        if rng.random() < 0.3:
            fields["user_priority"] = int(rng.integers(2, 4))
        return OBData(**fields)

    def _windows(self, ob: ObservationBlock, target: Target) -> None:
        """Absolute windows of a few nights from a night the target is visible (e.g. to
        coordinate with another facility)."""
        vis = self._visible()
        nights = np.flatnonzero(vis.hours[self.targets.index(target)] > 0.5)
        if nights.size == 0:
            return
        night = vis.dates[int(nights[int(self.rng.integers(nights.size))])]
        start = dt.datetime.combine(night, dt.time(21, 0), tzinfo=dt.UTC)
        end = start + dt.timedelta(days=int(self.rng.integers(2, 8)), hours=14)
        ob_parts.absolute_windows_set(ob_id=ob.pk, windows=[(start, end)], actor=self.pi)

    def _visible(self) -> NightlyVisibility:
        if self._visibility is None:
            period = self.run.proposal.period
            self._visibility = nightly_visibility(
                self.run.telescope.site.as_astro(),
                [t.ra_deg for t in self.targets],
                [t.dec_deg for t in self.targets],
                period.start,
                period.end,
                max_airmass=self.run.max_airmass,
                step_minutes=60.0,
            )
        return self._visibility

    # ----------------------------------------------------------------------------------------
    # Submission and review
    # ----------------------------------------------------------------------------------------

    def _waive_short(self) -> None:
        """Staff waive the one-hour minimum of a filler run's short OBs (one by one: a
        waiver is a decision on one OB, not copied with it)."""
        short = ObservationBlock.objects.filter(
            run=self.run, status=PARTIAL, execution_time_s__lt=SHORT_OB_S
        ).order_by("pk")
        for ob_id in short.values_list("pk", flat=True):
            services.ob_set_short_waiver(ob_id=ob_id, waived=True, actor=self.staff)

    def _submit(self) -> None:
        """The PI submits the whole tree; should verification refuse it, OB by OB (the
        refused ones stay P and are counted)."""
        try:
            services.container_submit(container_id=self.root.pk, actor=self.pi)
        except InvalidInput:
            for ob in ObservationBlock.objects.filter(run=self.run, status=PARTIAL):
                try:
                    services.ob_submit(ob_id=ob.pk, actor=self.pi)
                except InvalidInput:
                    self.refused += 1

    def _review(self) -> None:
        """Staff review folder by folder: a few OBs sent back with a message, the rest of the
        folder accepted; some folders not reviewed yet. OBs in the root folder one by one."""
        for container in self.root.children.order_by("position", "pk"):
            if self.rng.random() < UNREVIEWED:
                continue
            self._send_back_some(container.obs.filter(status=DEFINED).order_by("position", "pk"))
            if container.obs.filter(status=DEFINED).exists():
                services.container_accept(container_id=container.pk, actor=self.staff)
        for ob in self.root.obs.filter(status=DEFINED).order_by("position", "pk"):
            draw = self.rng.random()
            if draw < SENT_BACK:
                self._send_back(ob)
            elif draw >= SENT_BACK + UNREVIEWED:
                services.ob_accept(ob_id=ob.pk, actor=self.staff)

    def _send_back_some(self, obs: QuerySet[ObservationBlock]) -> None:
        for ob in obs:
            if self.rng.random() < SENT_BACK:
                self._send_back(ob)

    def _send_back(self, ob: ObservationBlock) -> None:
        message = SEND_BACK_MESSAGES[int(self.rng.integers(len(SEND_BACK_MESSAGES)))]
        services.ob_send_back(ob_id=ob.pk, message=message, actor=self.staff)

    def _uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def _tenths(self) -> float:
        """0.1, 0.2 or 0.3: how much a relaxed constraint is relaxed."""
        return 0.1 * float(self.rng.integers(1, 4))
