"""Writes of data delegation: a PI names (and removes) who else reads the programme's
proprietary files (:func:`archive.access.privileged_q` reads the rows)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from archive.access import may_name_delegates
from archive.models import ArchiveEvent, ArchiveEventKind, DataDelegate
from dataflow.errors import InvalidInput, NotAllowed
from proposals.models import Proposal


def _find_user(identifier: str) -> User | None:
    """An account by username or e-mail address (case-insensitive), if exactly one matches."""
    identifier = identifier.strip()
    if not identifier:
        return None
    matches = list(
        User.objects.filter(is_active=True, username__iexact=identifier)[:2]
        or User.objects.filter(is_active=True, email__iexact=identifier)[:2]
    )
    return matches[0] if len(matches) == 1 else None


@transaction.atomic
def delegate_add(*, proposal_id: int, user_identifier: str, actor: User) -> DataDelegate:
    """The PI of ``proposal_id`` lets the account named by ``user_identifier`` read its data."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if not may_name_delegates(actor, proposal.pi_id):
        raise NotAllowed("Only the PI names the delegates of a programme's data.")
    delegate = _find_user(user_identifier)
    if delegate is None:
        raise InvalidInput(
            "Unknown account.",
            {"user": [f"No account has the username or e-mail '{user_identifier[:100]}'."]},
        )
    if delegate.pk == proposal.pi_id:
        raise InvalidInput("The PI reads the data already.", {"user": ["That is you, the PI."]})
    if DataDelegate.objects.filter(proposal=proposal, user=delegate).exists():
        raise InvalidInput(
            "Already a delegate.", {"user": [f"{delegate.username} is one already."]}
        )
    row = DataDelegate.objects.create(proposal=proposal, user=delegate, granted_by=actor)
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.DELEGATE_ADDED,
        actor=actor,
        detail={"proposal": proposal.pk, "user": delegate.pk},
    )
    return row


@transaction.atomic
def delegate_remove(*, delegate_id: int, actor: User) -> None:
    """The PI takes a delegate's access back (downloads are decided at download time, so it
    ends at once)."""
    row = DataDelegate.objects.select_for_update().select_related("proposal").get(pk=delegate_id)
    if not may_name_delegates(actor, row.proposal.pi_id):
        raise NotAllowed("Only the PI removes the delegates of a programme's data.")
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.DELEGATE_REMOVED,
        actor=actor,
        detail={"proposal": row.proposal_id, "user": row.user_id},
    )
    row.delete()
