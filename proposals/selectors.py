"""Reads shaped for pages and endpoints. Who sees what is decided by ``dataflow.permissions``:
an astronomer sees only the proposals they are PI or co-investigator of; staff see all."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.utils import timezone

from dataflow.permissions import may_view_proposal_q
from proposals.models import Period, Proposal


def proposals_visible_to(user: User | AnonymousUser) -> QuerySet[Proposal]:
    qs = Proposal.objects.select_related("period", "pi", "pi__profile")
    rule = may_view_proposal_q(user)
    return qs if rule is None else qs.filter(rule).distinct()


def proposal_detail(*, user: User | AnonymousUser, pk: int) -> Proposal:
    """The proposal with everything a page or the PDF shows; DoesNotExist if not visible."""
    return (
        proposals_visible_to(user)
        .prefetch_related(
            "coinvestigators__user__profile",
            "targets",
            "runs__telescope",
            "runs__instrument",
            "runs__targets",
            "figures",
            "events__actor",
        )
        .get(pk=pk)
    )


def open_periods() -> QuerySet[Period]:
    now = timezone.now()
    return Period.objects.filter(call_opens__lte=now, deadline__gt=now)
