"""Every write of review and allocation. Each service runs in one transaction, locks what it
changes, checks who may act (``dataflow.permissions``) and writes a ``ReviewEvent`` (and a
``ProposalEvent`` for status changes). Reviewer identities never leave these tables towards
PIs: the outcome letter is built from grades and comments only."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from dataflow.permissions import is_reviewer, may_change_proposal_status, may_manage_review
from observations.services import root_folder
from proposals.commands import UNSET, Maybe
from proposals.models import Mode, ObservingRun, Period, Proposal, ProposalEvent, ProposalStatus
from proposals.review import conflicts as cf
from proposals.review.models import (
    Assignment,
    AssignmentRole,
    Conflict,
    ConflictKind,
    LedgerEntry,
    LedgerKind,
    Panel,
    PanelGrade,
    PanelMember,
    RankClass,
    Review,
    ReviewDelegate,
    ReviewEvent,
    ReviewSetup,
    ReviewStatus,
    RunDecision,
)
from proposals.review.optimiser import problem as opt
from proposals.review.optimiser.solve import solve_assignment
from proposals.rules import period_capacity
from proposals.states import PROPOSAL_TRANSITIONS

DISTRIBUTED = "distributed"


def _staff(actor: User, what: str) -> None:
    if not may_manage_review(actor):
        raise NotAllowed(f"Only observatory staff {what}.")


def _event(period_id: int, actor: User | None, action: str, note: str = "", **kw: object) -> None:
    ReviewEvent.objects.create(
        period_id=period_id, actor=actor, action=action, note=note[:500], **kw
    )


def setup_for(period: Period) -> ReviewSetup:
    """The period's review rules; the defaults (unsaved) until staff or the review start store
    them, so reading them writes nothing."""
    return ReviewSetup.objects.filter(period=period).first() or ReviewSetup(period=period)


# --------------------------------------------------------------------------------------------
# The review cycle and panels
# --------------------------------------------------------------------------------------------


@transaction.atomic
def review_start(*, period_id: int, actor: User | None, now: dt.datetime | None = None) -> int:
    """Put the period's submitted proposals under review (at the deadline, or earlier by staff)
    and detect conflicts; returns how many proposals moved. ``actor`` None: the deadline job."""
    now = now or timezone.now()
    if actor is not None:
        _staff(actor, "start the review")
    period = Period.objects.select_for_update().get(pk=period_id)
    if actor is None and now < period.deadline:
        raise InvalidInput("The call is still open.", {"period": ["The deadline is later."]})
    setup, _ = ReviewSetup.objects.get_or_create(period=period)
    moved = 0
    for proposal in Proposal.objects.select_for_update().filter(
        period=period, status=ProposalStatus.SUBMITTED
    ):
        PROPOSAL_TRANSITIONS.check(proposal.status, ProposalStatus.UNDER_REVIEW)
        proposal.status = ProposalStatus.UNDER_REVIEW
        proposal.version += 1
        proposal.save(update_fields=["status", "version", "updated_at"])
        ProposalEvent.objects.create(
            proposal=proposal,
            old=ProposalStatus.SUBMITTED,
            new=ProposalStatus.UNDER_REVIEW,
            actor=actor,
            note="review started",
        )
        moved += 1
    if setup.started_at is None:
        setup.started_at = now
        setup.save(update_fields=["started_at"])
    _event(period.pk, actor, "review started", f"{moved} proposals under review")
    conflicts_detect(period_id=period.pk)
    return moved


@transaction.atomic
def panel_create(
    *,
    period_id: int,
    name: str,
    category: str,
    deadline: dt.datetime,
    actor: User,
    chair_id: int | None = None,
) -> Panel:
    """A panel of one category (several panels per category are allowed)."""
    _staff(actor, "define panels")
    from proposals.models import Category

    errors: dict[str, list[str]] = {}
    if category not in Category.values:
        errors["category"] = [f"Choose one of {', '.join(Category.values)}."]
    if not name.strip():
        errors["name"] = ["A panel needs a name."]
    if Panel.objects.filter(period_id=period_id, name=name.strip()).exists():
        errors["name"] = [f"A panel named {name.strip()} exists already."]
    if errors:
        raise InvalidInput("Invalid panel.", errors)
    panel = Panel.objects.create(
        period_id=period_id, name=name.strip(), category=category, deadline=deadline
    )
    _event(period_id, actor, "panel created", panel.name)
    if chair_id is not None:
        panel_member_add(panel_id=panel.pk, user_id=chair_id, actor=actor, chair=True)
    return panel


@transaction.atomic
def panel_member_add(
    *,
    panel_id: int,
    user_id: int,
    actor: User,
    expertise: list[str] | None = None,
    chair: bool = False,
) -> PanelMember:
    """Add a reviewer to a panel (optionally as its chair) with their declared expertise."""
    _staff(actor, "compose panels")
    panel = Panel.objects.select_for_update().get(pk=panel_id)
    user = User.objects.filter(pk=user_id).first()
    if user is None or not is_reviewer(user):
        raise InvalidInput("Not a reviewer.", {"user": ["Only users with the reviewer role."]})
    member, _ = PanelMember.objects.get_or_create(panel=panel, user=user)
    if expertise is not None:
        from proposals.rules import keywords

        member.expertise = keywords(expertise)
        member.save(update_fields=["expertise"])
    if chair:
        panel.chair = user
        panel.save(update_fields=["chair"])
    _event(panel.period_id, actor, "panel member added", f"{panel.name}: {user.username}")
    conflicts_detect(period_id=panel.period_id, reviewer_ids={user.pk})
    return member


# --------------------------------------------------------------------------------------------
# Pools and conflicts
# --------------------------------------------------------------------------------------------


def requested_hours(proposal: Proposal) -> float:
    """The proposal's request in hours (VM nights at the period's mean night length)."""
    total = 0.0
    for run in proposal.runs.all():
        if run.mode == Mode.VM:
            nights, hours = period_capacity(proposal.period, run.telescope)
            total += (run.nights or 0.0) * hours / max(nights, 1)
        else:
            total += run.hours or 0.0
    return total


REVIEWED = (ProposalStatus.UNDER_REVIEW, ProposalStatus.APPROVED, ProposalStatus.REJECTED)


def under_review(period: Period) -> QuerySet[Proposal]:
    """The period's proposals in review or decided after it (rankings keep showing them)."""
    return (
        Proposal.objects.filter(period=period, status__in=REVIEWED)
        .select_related("period", "pi__profile")
        .prefetch_related("runs__telescope__site", "coinvestigators__user__profile")
        .order_by("programme_number", "pk")
    )


def pools(period: Period) -> dict[Panel | str, list[Proposal]]:
    """Which proposals each panel reviews (a category's proposals shared round-robin among its
    panels), and the distributed pool (proposals asking less than the setup's threshold)."""
    setup = setup_for(period)
    panels_by_category: dict[str, list[Panel]] = {}
    for panel in period.panels.order_by("pk"):
        panels_by_category.setdefault(panel.category, []).append(panel)
    result: dict[Panel | str, list[Proposal]] = {
        p: [] for ps in panels_by_category.values() for p in ps
    }
    result[DISTRIBUTED] = []
    proposals = list(under_review(period))
    small = {
        p.pk
        for p in proposals
        if setup.distributed_below_hours and requested_hours(p) < setup.distributed_below_hours
    }
    # Distributed review needs more teams than reviewers per proposal (nobody reviews their
    # own): a pool too small for that is reviewed by the panels.
    if len({p.pi_id for p in proposals if p.pk in small}) <= setup.reviewers_per_proposal:
        small = set()
    counters: dict[str, int] = {}
    for proposal in proposals:
        if proposal.pk in small:
            result[DISTRIBUTED].append(proposal)
            continue
        panels = panels_by_category.get(proposal.category)
        if not panels:
            continue
        i = counters.get(proposal.category, 0)
        counters[proposal.category] = i + 1
        result[panels[i % len(panels)]].append(proposal)
    return result


def team_reviewer(proposal: Proposal) -> User:
    """Who reviews for a proposal's team in distributed review: its delegate, else the PI."""
    delegate = ReviewDelegate.objects.filter(proposal=proposal).select_related("user").first()
    return delegate.user if delegate is not None else proposal.pi


@transaction.atomic
def review_delegate_set(*, proposal_id: int, user_id: int, actor: User) -> ReviewDelegate | None:
    """The PI names an accepted co-investigator to do the team's distributed reviews (naming
    themself removes the delegation). Not once the reviews are assigned."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if not may_change_proposal_status(actor, proposal):
        raise NotAllowed("Only the PI delegates the team's reviews.")
    if Assignment.objects.filter(for_proposal=proposal).exists():
        raise TransitionNotAllowed("The team's reviews are assigned already.")
    if user_id == proposal.pi_id:
        ReviewDelegate.objects.filter(proposal=proposal).delete()
        _event(proposal.period_id, actor, "review delegate removed", proposal=proposal)
        return None
    if not proposal.coinvestigators.filter(user_id=user_id).exists():
        raise InvalidInput(
            "Not a co-investigator.", {"user": ["Choose an accepted co-investigator."]}
        )
    delegate, _ = ReviewDelegate.objects.update_or_create(
        proposal=proposal, defaults={"user_id": user_id, "at": timezone.now()}
    )
    _event(proposal.period_id, actor, "review delegated", proposal=proposal)
    return delegate


def _institute(user: User) -> str:
    profile = getattr(user, "profile", None)
    return profile.institute if profile is not None else ""


def _team(proposal: Proposal) -> cf.Team:
    users = [proposal.pi] + [c.user for c in proposal.coinvestigators.all() if c.user]
    return cf.Team(
        proposal_id=proposal.pk,
        pi_id=proposal.pi_id,
        coi_ids=frozenset(c.user_id for c in proposal.coinvestigators.all() if c.user_id),
        institutes=frozenset(cf.normalise_institute(_institute(u)) for u in users if _institute(u)),
    )


@transaction.atomic
def conflicts_detect(*, period_id: int, reviewer_ids: set[int] | None = None) -> int:
    """Record every detected conflict of the period's pools (idempotent), or only those of
    ``reviewer_ids`` (a member just added); returns the new rows."""
    period = Period.objects.get(pk=period_id)
    setup = setup_for(period)
    created = 0
    for pool, proposals in pools(period).items():
        if pool == DISTRIBUTED:
            reviewer_users = [team_reviewer(p) for p in proposals]
        else:
            assert isinstance(pool, Panel)
            reviewer_users = [m.user for m in pool.members.select_related("user__profile")]
        reviewers = {
            u.pk: _institute(u)
            for u in reviewer_users
            if reviewer_ids is None or u.pk in reviewer_ids
        }
        if not reviewers:
            continue
        found = cf.detect(
            (_team(p) for p in proposals),
            reviewers,
            competing=setup.competing_pi_is_conflict and pool != DISTRIBUTED,
        )
        for f in found:
            _, new = Conflict.objects.get_or_create(
                proposal_id=f.proposal_id,
                reviewer_id=f.reviewer_id,
                kind=f.kind,
                defaults={"reason": f.reason},
            )
            created += new
    if created:
        _event(period.pk, None, "conflicts detected", f"{created} new")
    return created


def _active_conflicts(proposal_ids: list[int]) -> set[tuple[int, int]]:
    return set(
        Conflict.objects.filter(
            proposal_id__in=proposal_ids, overridden_at__isnull=True
        ).values_list("proposal_id", "reviewer_id")
    )


@transaction.atomic
def conflict_override(*, conflict_id: int, reason: str, actor: User) -> Conflict:
    """Staff lift a conflict, with the reason logged; the row stays."""
    _staff(actor, "override conflicts")
    conflict = Conflict.objects.select_for_update().select_related("proposal").get(pk=conflict_id)
    if not reason.strip():
        raise InvalidInput("A reason is needed.", {"reason": ["Say why the conflict is lifted."]})
    if conflict.overridden_at is not None:
        raise TransitionNotAllowed("This conflict was overridden already.")
    conflict.overridden_at = timezone.now()
    conflict.overridden_by = actor
    conflict.override_reason = reason.strip()[:500]
    conflict.save(update_fields=["overridden_at", "overridden_by", "override_reason"])
    _event(
        conflict.proposal.period_id,
        actor,
        "conflict overridden",
        f"{conflict.kind}: {reason.strip()}",
        proposal=conflict.proposal,
    )
    return conflict


@transaction.atomic
def conflict_declare(*, assignment_id: int, reason: str, actor: User) -> Assignment | None:
    """A reviewer declares a conflict with an assigned proposal: the conflict is recorded, the
    assignment (and its draft) dropped and the proposal reassigned to the least loaded
    unconflicted member; returns the new assignment (None when nobody is left)."""
    assignment = (
        Assignment.objects.select_for_update().select_related("proposal").get(pk=assignment_id)
    )
    if assignment.reviewer_id != actor.pk:
        raise NotAllowed("Only the assigned reviewer declares their conflicts.")
    if not reason.strip():
        raise InvalidInput("A reason is needed.", {"reason": ["Say what the conflict is."]})
    if Review.objects.filter(assignment=assignment, status=ReviewStatus.SUBMITTED).exists():
        raise TransitionNotAllowed("The review was submitted already.")
    proposal, panel = assignment.proposal, assignment.panel
    Conflict.objects.get_or_create(
        proposal=proposal,
        reviewer=actor,
        kind=ConflictKind.DECLARED,
        defaults={"reason": reason.strip()[:500], "created_by": actor},
    )
    role = assignment.role
    assignment.delete()
    _event(proposal.period_id, actor, "conflict declared", reason.strip(), proposal=proposal)
    if panel is None:
        return None
    taken = set(proposal.assignments.values_list("reviewer_id", flat=True))
    blocked = {r for _, r in _active_conflicts([proposal.pk])} | taken
    loads = dict(
        Assignment.objects.filter(panel=panel)
        .values_list("reviewer_id")
        .annotate(n=Count("id"))
        .values_list("reviewer_id", "n")
    )
    candidates = [m for m in panel.members.all() if m.user_id not in blocked]
    if not candidates:
        _event(
            proposal.period_id, None, "reassignment impossible", str(proposal), proposal=proposal
        )
        return None
    best = min(candidates, key=lambda m: (loads.get(m.user_id, 0), m.user_id))
    new = Assignment.objects.create(
        proposal=proposal, reviewer_id=best.user_id, panel=panel, role=role
    )
    _event(proposal.period_id, None, "reassigned", str(proposal), proposal=proposal)
    return new


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------


def _paper(proposal: Proposal, needs: int) -> opt.Paper:
    return opt.Paper(id=proposal.pk, keywords=frozenset(proposal.keywords), needs=needs)


@transaction.atomic
def assignments_solve(*, period_id: int, actor: User, time_limit_s: float = 10.0) -> int:
    """Assign reviewers to every pool of the period with the optimiser (no conflict, balanced
    loads, best expertise match); hand moves are kept. Refused, naming the proposals, when some
    cannot get enough unconflicted reviewers. Returns how many assignments exist."""
    _staff(actor, "assign reviewers")
    period = Period.objects.select_for_update().get(pk=period_id)
    setup = setup_for(period)
    conflicts_detect(period_id=period.pk)
    if Review.objects.filter(
        assignment__proposal__period=period, status=ReviewStatus.SUBMITTED
    ).exists():
        raise TransitionNotAllowed("Reviews were submitted already: move assignments by hand.")
    plans: list[tuple[Panel | None, opt.AssignmentProblem, list[Proposal]]] = []
    uncovered: list[str] = []
    for pool, proposals in pools(period).items():
        if not proposals:
            continue
        ids = [p.pk for p in proposals]
        conflicts = _active_conflicts(ids)
        if pool == DISTRIBUTED:
            # Each team (its PI or delegate) owes reviews for each of its proposals in the pool,
            # and never reviews its own.
            teams = {p.pk: team_reviewer(p).pk for p in proposals}
            owed: dict[int, int] = {}
            for reviewer_id in teams.values():
                owed[reviewer_id] = owed.get(reviewer_id, 0) + setup.distributed_reviews_per_team
            reviewers = tuple(opt.Reviewer(id=r, capacity=n) for r, n in owed.items())
            conflicts |= set(teams.items())
            panel = None
            primaries = 0
        else:
            assert isinstance(pool, Panel)
            panel = pool
            reviewers = tuple(
                opt.Reviewer(id=m.user_id, expertise=frozenset(m.expertise))
                for m in pool.members.all()
            )
            primaries = setup.primaries_per_proposal
        fixed = frozenset(
            Assignment.objects.filter(proposal_id__in=ids, by_hand=True).values_list(
                "proposal_id", "reviewer_id"
            )
        )
        problem = opt.AssignmentProblem(
            papers=tuple(_paper(p, setup.reviewers_per_proposal) for p in proposals),
            reviewers=reviewers,
            conflicts=frozenset(conflicts),
            primaries=primaries,
            fixed=fixed,
        )
        by_id = {p.pk: p for p in proposals}
        uncovered += [str(by_id[i]) for i in opt.uncoverable(problem)]
        plans.append((panel, problem, proposals))
    if uncovered:
        raise InvalidInput(
            "Some proposals cannot get enough unconflicted reviewers.",
            {"proposals": [f"{name} cannot be covered." for name in uncovered]},
        )
    Assignment.objects.filter(proposal__period=period, by_hand=False).delete()
    for panel, problem, proposals in plans:
        result = solve_assignment(problem, time_limit_s=time_limit_s)
        kept = problem.fixed
        Assignment.objects.bulk_create(
            [
                Assignment(
                    proposal_id=paper,
                    reviewer_id=reviewer,
                    panel=panel,
                    for_proposal=None if panel else _own(proposals, reviewer),
                    role=AssignmentRole.DISTRIBUTED if panel is None else role,
                )
                for paper, reviewer, role in result.pairs
                if (paper, reviewer) not in kept
            ]
        )
    total = Assignment.objects.filter(proposal__period=period).count()
    _event(period.pk, actor, "reviewers assigned", f"{total} assignments")
    return total


def _own(proposals: list[Proposal], reviewer_id: int) -> Proposal | None:
    """In distributed review a PI (or delegate) reviews on behalf of their own team."""
    return next((p for p in proposals if team_reviewer(p).pk == reviewer_id), None)


@transaction.atomic
def assignment_move(*, assignment_id: int, reviewer_id: int, actor: User) -> Assignment:
    """Staff move one assignment to another reviewer of the panel (kept on re-solve)."""
    _staff(actor, "move assignments")
    assignment = (
        Assignment.objects.select_for_update().select_related("proposal").get(pk=assignment_id)
    )
    if Review.objects.filter(assignment=assignment).exclude(grade=None).exists():
        raise TransitionNotAllowed("The reviewer has started: the review would be lost.")
    errors = []
    if assignment.panel and not assignment.panel.members.filter(user_id=reviewer_id).exists():
        errors.append("Choose a member of the panel.")
    if (assignment.proposal_id, reviewer_id) in _active_conflicts([assignment.proposal_id]):
        errors.append("That reviewer has a conflict with this proposal.")
    if Assignment.objects.filter(proposal=assignment.proposal, reviewer_id=reviewer_id).exists():
        errors.append("That reviewer is assigned to this proposal already.")
    if errors:
        raise InvalidInput("Cannot move the assignment.", {"reviewer": errors})
    Review.objects.filter(assignment=assignment).delete()
    assignment.reviewer_id = reviewer_id
    assignment.by_hand = True
    assignment.save(update_fields=["reviewer", "by_hand"])
    _event(assignment.proposal.period_id, actor, "assignment moved", proposal=assignment.proposal)
    return assignment


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


def _grade(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput("Bad grade.", {"grade": ["Give a grade from 1.0 to 5.0."]})
    try:
        grade = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput("Bad grade.", {"grade": ["Give a grade from 1.0 to 5.0."]}) from exc
    if not grade.is_finite() or not Decimal("1.0") <= grade <= Decimal("5.0"):
        raise InvalidInput("Bad grade.", {"grade": ["Grades go from 1.0 (best) to 5.0."]})
    if grade != grade.quantize(Decimal("0.1")):
        raise InvalidInput("Bad grade.", {"grade": ["Grades go in steps of 0.1."]})
    return grade.quantize(Decimal("0.1"))


@transaction.atomic
def review_save(
    *,
    assignment_id: int,
    actor: User,
    grade: object = UNSET,
    comment_to_pi: Maybe[str] = UNSET,
    comment_to_panel: Maybe[str] = UNSET,
    submit: bool = False,
) -> Review:
    """Save the assigned reviewer's draft; ``submit`` makes it final (grade and a comment to
    the PI required). A field left ``UNSET`` keeps the stored draft's value (merged here,
    under the lock: a PATCH and a page form go through the same rule)."""
    assignment = (
        Assignment.objects.select_for_update().select_related("proposal").get(pk=assignment_id)
    )
    if assignment.reviewer_id != actor.pk:
        raise NotAllowed("Only the assigned reviewer grades this proposal.")
    review, _ = Review.objects.select_for_update().get_or_create(assignment=assignment)
    if review.status == ReviewStatus.SUBMITTED:
        raise TransitionNotAllowed("This review was submitted and is final.")
    if grade is not UNSET:
        review.grade = _grade(grade)
    if comment_to_pi is not UNSET:
        review.comment_to_pi = comment_to_pi[:10000]
    if comment_to_panel is not UNSET:
        review.comment_to_panel = comment_to_panel[:10000]
    fields = ["grade", "comment_to_pi", "comment_to_panel", "updated_at"]
    if submit:
        errors: dict[str, list[str]] = {}
        if review.grade is None:
            errors["grade"] = ["Grade the proposal before submitting."]
        if not review.comment_to_pi.strip():
            errors["comment_to_pi"] = ["Write a comment for the PI before submitting."]
        if errors:
            raise InvalidInput("The review is not complete.", errors)
        review.status = ReviewStatus.SUBMITTED
        review.submitted_at = timezone.now()
        fields += ["status", "submitted_at"]
    review.save(update_fields=fields)
    if submit:
        _event(
            assignment.proposal.period_id,
            actor,
            "review submitted",
            proposal=assignment.proposal,
        )
    return review


@transaction.atomic
def panel_grade_set(*, proposal_id: int, grade: object, actor: User) -> PanelGrade:
    """The panel chair (or staff) enters the final panel grade after the meeting."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    panel = Panel.objects.filter(assignments__proposal=proposal).distinct().first()
    if panel is None:
        raise InvalidInput("Not reviewed by a panel.", {"proposal": ["No panel reviews it."]})
    if not (panel.chair_id == actor.pk or may_manage_review(actor)):
        raise NotAllowed("Only the panel's chair or staff set the panel grade.")
    value = _grade(grade)
    if value is None:
        raise InvalidInput("Bad grade.", {"grade": ["Give a grade from 1.0 to 5.0."]})
    result, _ = PanelGrade.objects.update_or_create(
        proposal=proposal, defaults={"panel": panel, "grade": value, "by": actor}
    )
    _event(proposal.period_id, actor, "panel grade", f"{value}", proposal=proposal)
    return result


# --------------------------------------------------------------------------------------------
# Allocation: decisions per run and the ledger
# --------------------------------------------------------------------------------------------


def allocated_seconds(run: ObservingRun) -> int:
    return sum(run.ledger.filter(kind=LedgerKind.ALLOCATION).values_list("seconds", flat=True))


@transaction.atomic
def run_decide(
    *,
    run_id: int,
    actor: User,
    approved: bool,
    rank_class: str = "",
    hours: float | None = None,
    nights: float | None = None,
    note: str = "",
    send_outcome: bool = True,
) -> RunDecision:
    """Approve a run (SM: rank class and hours; VM: whole nights) or reject it. The time is a
    ledger entry in integer seconds (a changed decision adds the difference). When every run
    of the proposal is decided, the proposal is approved (at least one run) or rejected and
    its outcome letter is sent (``send_outcome=False``: bulk demo data, letters on demand)."""
    _staff(actor, "allocate time")
    run = ObservingRun.objects.select_related("proposal__period", "telescope__site").get(pk=run_id)
    proposal = Proposal.objects.select_for_update().get(pk=run.proposal_id)
    if proposal.status != ProposalStatus.UNDER_REVIEW:
        raise TransitionNotAllowed(
            f"{proposal} is {proposal.get_status_display().lower()}: runs are decided under review."
        )
    errors: dict[str, list[str]] = {}
    seconds = 0
    if approved:
        if run.mode == Mode.SM:
            if rank_class not in RankClass.values:
                errors["rank_class"] = ["An approved service-mode run needs rank class A, B or C."]
            if hours is None or isinstance(hours, bool) or not 0 < hours <= 5000:
                errors["hours"] = ["Allocate a positive number of hours."]
            else:
                seconds = round(hours * 3600)
        else:
            if rank_class:
                errors["rank_class"] = ["Visitor-mode runs have no rank class."]
            if nights is None or isinstance(nights, bool) or nights <= 0 or nights != int(nights):
                errors["nights"] = ["Allocate a whole positive number of nights."]
            else:
                n_nights, night_hours = period_capacity(proposal.period, run.telescope)
                if nights > n_nights:
                    errors["nights"] = [f"{proposal.period} has {n_nights} nights."]
                seconds = round(nights * night_hours / max(n_nights, 1) * 3600)
    if errors:
        raise InvalidInput("Invalid decision.", errors)
    decision, _ = RunDecision.objects.update_or_create(
        run=run,
        defaults={
            "approved": approved,
            "rank_class": rank_class if approved else "",
            "allocated_nights": nights if approved and run.mode == Mode.VM else None,
            "decided_by": actor,
            "decided_at": timezone.now(),
            "note": note[:300],
        },
    )
    if approved:
        root_folder(run=run, actor=actor)  # Phase 2 of the run starts from its root folder
    delta = seconds - allocated_seconds(run)
    if delta:
        LedgerEntry.objects.create(
            run=run, kind=LedgerKind.ALLOCATION, seconds=delta, actor=actor, note=note[:300]
        )
    verdict = f"approved {rank_class} {seconds} s" if approved else "rejected"
    _event(proposal.period_id, actor, "run decided", f"{run}: {verdict}", proposal=proposal)
    _finalise_if_decided(proposal, actor, send_outcome=send_outcome)
    return decision


def _finalise_if_decided(proposal: Proposal, actor: User, *, send_outcome: bool) -> None:
    runs = list(proposal.runs.all())
    decisions = {d.run_id: d for d in RunDecision.objects.filter(run__in=runs)}
    if len(decisions) < len(runs):
        return
    new = (
        ProposalStatus.APPROVED
        if any(d.approved for d in decisions.values())
        else ProposalStatus.REJECTED
    )
    PROPOSAL_TRANSITIONS.check(proposal.status, new)
    old, proposal.status = proposal.status, new
    proposal.version += 1
    proposal.save(update_fields=["status", "version", "updated_at"])
    ProposalEvent.objects.create(proposal=proposal, old=old, new=new, actor=actor)
    if send_outcome:
        from proposals.review.tasks import send_outcome_letter

        transaction.on_commit(lambda: send_outcome_letter.delay(proposal.pk))
