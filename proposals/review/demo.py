"""The demo period's review and allocation, walked through the services (``seed_demo``):
panels with chairs and members from many institutes (so real conflicts arise), distributed
review for the small requests, the optimiser's assignments, grades and comments, the chairs'
grades, and staff decisions down the telescope rankings."""

import datetime as dt

import numpy as np
from django.contrib.auth.models import User
from django.utils import timezone

from dataflow.demo import distributions as dist
from proposals.models import Category, Period
from proposals.review import selectors as sel
from proposals.review import services as rv
from proposals.review.models import Assignment, Conflict, ConflictKind, ReviewSetup

EXPERTISE = {
    "A": ["cosmology", "lensing", "quasars", "clusters", "supernovae"],
    "B": ["agn", "stellar populations", "outflows", "bulges", "dwarf galaxies"],
    "C": ["star formation", "discs", "exoplanets", "dust", "molecular clouds"],
    "D": ["pulsations", "binaries", "abundances", "white dwarfs", "massive stars"],
}
COMMENTS = [
    "A clear case, well matched to the instrument.",
    "The sample is small; the feasibility is not fully demonstrated.",
    "Timely and important; the time request is well justified.",
    "The science case is solid but incremental.",
    "The overheads look underestimated.",
]


def walk(period: Period, *, staff: User, reviewers: list[User], rng: np.random.Generator) -> None:
    ReviewSetup.objects.update_or_create(
        period=period,
        defaults={
            "distributed_below_hours": 6.0,
            "review_deadline": timezone.now() + dt.timedelta(days=45),
        },
    )
    # The time offered to the call is the calendar's open nights (``scheduling.demo``, seeded
    # first): most are held for guaranteed time and large programmes, so the pressure is 2-3.
    rv.review_start(period_id=period.pk, actor=staff)
    per_panel = max(len(reviewers) // len(Category.values), 3)
    for i, category in enumerate(Category.values):
        members = reviewers[i * per_panel : (i + 1) * per_panel]
        panel = rv.panel_create(
            period_id=period.pk,
            name=f"{category}1 — {dist.CATEGORY_NAMES[category]}",
            category=category,
            deadline=timezone.now() + dt.timedelta(days=40),
            actor=staff,
        )
        for j, member in enumerate(members):
            words = EXPERTISE[category]
            rv.panel_member_add(
                panel_id=panel.pk,
                user_id=member.pk,
                actor=staff,
                expertise=[words[j % len(words)], words[(j + 2) % len(words)]],
                chair=j == 0,
            )
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    # One reviewer declares a conflict (the proposal is reassigned); staff lift another.
    first = Assignment.objects.filter(panel__isnull=False).order_by("pk").first()
    if first is not None:
        rv.conflict_declare(
            assignment_id=first.pk, reason="I advise the PI's student.", actor=first.reviewer
        )
    lifted = Conflict.objects.filter(kind=ConflictKind.INSTITUTE).order_by("pk").first()
    if lifted is not None:
        rv.conflict_override(
            conflict_id=lifted.pk, reason="Different department, no collaboration.", actor=staff
        )
    _grade(rng)
    _allocate(period, staff)


def _grade(rng: np.random.Generator) -> None:
    """About 90 % of the reviews are submitted, a few left as drafts (late on the staff page);
    each reviewer has a personal bias, which the normalisation takes out."""
    assignments = list(Assignment.objects.select_related("reviewer").order_by("pk"))
    quality = {
        a.proposal_id: float(g)
        for a, g in zip(assignments, dist.grades(rng, len(assignments)), strict=True)
    }
    bias: dict[int, float] = {}
    for a in assignments:
        b = bias.setdefault(a.reviewer_id, float(rng.normal(0.0, 0.4)))
        grade = round(min(max(quality[a.proposal_id] + b + float(rng.normal(0, 0.3)), 1.0), 5.0), 1)
        submit = rng.random() < 0.9
        rv.review_save(
            assignment_id=a.pk,
            actor=a.reviewer,
            grade=grade,
            comment_to_pi=COMMENTS[int(rng.integers(len(COMMENTS)))],
            comment_to_panel="Discuss the feasibility." if grade > 3 else "Strong; support.",
            submit=submit,
        )


def _allocate(period: Period, staff: User) -> None:
    """Down each telescope's ranking but VISTA's: above the cut line approved (the top third
    rank class A, then B, then C), below it rejected. Letters render on demand."""
    rankings, _ = sel.telescope_rankings(period)
    decided: set[int] = set()
    # VISTA's runs are left for staff to decide (their proposals stay under review), so the
    # allocation page has work on it.
    for ranking in [r for r in rankings if r.telescope != "VISTA"]:
        above = [line for line in ranking.lines if line.above_cut]
        for line in ranking.lines:
            proposal = ranking.proposals[line.paper]
            klass = (
                "A"
                if line.rank <= len(above) / 3
                else "B"
                if line.rank <= 2 * len(above) / 3
                else "C"
            )
            for run in proposal.runs.filter(telescope__name=ranking.telescope):
                if run.pk in decided:
                    continue
                decided.add(run.pk)
                approve = line.above_cut
                rv.run_decide(
                    run_id=run.pk,
                    actor=staff,
                    approved=approve,
                    rank_class=klass if approve and run.mode == "SM" else "",
                    hours=run.hours if approve and run.mode == "SM" else None,
                    nights=run.nights if approve and run.mode == "VM" else None,
                    send_outcome=False,
                )
