"""Reads shaped for pages and endpoints. Visibility rules live here: an astronomer sees only
the proposals they are PI or co-investigator of; staff see all."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from dataflow.permissions import is_staff_member
from proposals.models import Period, Proposal


def proposals_visible_to(user: User | AnonymousUser) -> QuerySet[Proposal]:
    qs = Proposal.objects.select_related("period", "pi", "pi__profile")
    if is_staff_member(user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(Q(pi=user) | Q(coinvestigators__user=user)).distinct()


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
    from django.utils import timezone

    now = timezone.now()
    return Period.objects.filter(call_opens__lte=now, deadline__gt=now)


def can_edit(user: User | AnonymousUser, proposal: Proposal) -> bool:
    """PI and co-investigators edit drafts."""
    if not user.is_authenticated:
        return False
    return proposal.pi_id == user.pk or proposal.coinvestigators.filter(user=user).exists()
