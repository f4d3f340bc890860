"""Who may do what: the one place where role and membership rules are decided.

Services call these before they write (and raise ``NotAllowed``), selectors use the same rules
to filter what a user sees, and pages use them to show or hide buttons, so the three cannot
disagree. A proposal's investigators are its PI and the co-investigators who accepted.
"""

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from dataflow.accounts.models import Role

if TYPE_CHECKING:
    from proposals.models import Proposal

AnyUser = User | AnonymousUser


def user_roles(user: AnyUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached: frozenset[str] | None = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {Role.STAFF.value}
        user._role_names = cached  # type: ignore[attr-defined]  # per-request cache on the user
    return cached


def signed_in(user: AnyUser) -> User:
    """The user of a view that requires a login (``login_required``, ``IsAuthenticated``);
    narrows the type for the services, which act for a real account."""
    if not isinstance(user, User):
        raise PermissionDenied("Log in first.")
    return user


def is_staff_member(user: AnyUser) -> bool:
    return Role.STAFF.value in user_roles(user)


def ensure_staff(user: AnyUser, what: str) -> None:
    """For staff-only pages: 403 with ``what`` they are for (e.g. "run the review")."""
    if not is_staff_member(user):
        raise PermissionDenied(f"Only observatory staff {what}.")


def is_operator(user: AnyUser) -> bool:
    """Holds the night operator's role (staff do what operators do: see :func:`may_operate`)."""
    return Role.OPERATOR.value in user_roles(user)


def may_operate(user: AnyUser) -> bool:
    """Night operators and staff run the night: rank, start, complete and abort OBs, post
    the weather and write the night log."""
    return is_operator(user) or is_staff_member(user)


def ensure_operator(user: AnyUser, what: str) -> None:
    """For the night's pages: 403 unless an operator or staff, with ``what`` they are for."""
    if not may_operate(user):
        raise PermissionDenied(f"Only night operators and staff {what}.")


def may_create_proposal(user: AnyUser) -> bool:
    """Only astronomers open proposals (staff, reviewers and operators act on them)."""
    return Role.ASTRONOMER.value in user_roles(user)


def investigator_q(user: AnyUser) -> Q:
    """The proposals ``user`` is PI or accepted co-investigator of, as a query filter."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(pi=user) | Q(coinvestigators__user=user)


def is_investigator(user: AnyUser, proposal: "Proposal") -> bool:
    if not user.is_authenticated:
        return False
    return proposal.pi_id == user.pk or proposal.coinvestigators.filter(user=user).exists()


def may_view_proposal_q(user: AnyUser) -> Q | None:
    """Filter of the proposals ``user`` may see; ``None`` means all of them (staff)."""
    return None if is_staff_member(user) else investigator_q(user)


def may_edit_proposal(user: AnyUser, proposal: "Proposal") -> bool:
    """The PI and co-investigators edit a proposal's content (while it is a draft)."""
    return is_investigator(user, proposal)


def may_change_proposal_status(user: AnyUser, proposal: "Proposal") -> bool:
    """Only the PI submits and withdraws."""
    return user.is_authenticated and proposal.pi_id == user.pk


def is_reviewer(user: AnyUser) -> bool:
    return Role.REVIEWER.value in user_roles(user)


def may_manage_review(user: AnyUser) -> bool:
    """Staff run the review: panels, assignments, overrides, allocation."""
    return is_staff_member(user)
