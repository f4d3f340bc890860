"""Every write to Phase 1 data. Each service runs in a transaction and is the only code that
saves these models. Writes to a proposal or its parts lock the proposal row, decide who may do
it with ``dataflow.permissions``, merge the typed input (``proposals.commands``) with the stored
values under that lock, apply ``proposals.rules``, save named fields and write an event row:
status changes and draft edits alike (who, when, which fields)."""

import datetime as dt
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from dataflow.changes import set_changed
from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion
from dataflow.permissions import (
    may_change_proposal_status,
    may_create_proposal,
    may_edit_proposal,
)
from proposals import rules
from proposals.commands import ProposalData, RunData, TargetData
from proposals.figures import check_figure
from proposals.models import (
    CoInvestigator,
    EventKind,
    Figure,
    ObservingRun,
    Period,
    Proposal,
    ProposalEvent,
    ProposalStatus,
    Target,
)
from proposals.states import PROPOSAL_TRANSITIONS
from proposals.verification import verify_proposal

# --------------------------------------------------------------------------------------------
# Locks, versions and the audit trail
# --------------------------------------------------------------------------------------------


def _lock_for_edit(*, proposal_id: int, actor: User, expected_version: int | None) -> Proposal:
    """Lock a draft for writing by its PI or a co-investigator, checking If-Match."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    ensure_may_edit(proposal, actor)
    _check_version(proposal, expected_version)
    return proposal


def ensure_may_edit(proposal: Proposal, actor: User) -> None:
    """Raise unless ``actor`` may edit ``proposal`` now (an investigator, and still a draft).
    The services check it under the lock; views may ask first, before parsing the input."""
    if not may_edit_proposal(actor, proposal):
        raise NotAllowed("Only the PI and co-investigators may edit this proposal.")
    if not proposal.is_editable:
        raise Frozen(
            f"Proposal {proposal.programme_id or proposal.pk} is "
            f"{proposal.get_status_display().lower()} and can no longer be edited."
        )


def _check_version(proposal: Proposal, expected_version: int | None) -> None:
    """If-Match: refuse a write based on a stale copy (None: the client did not ask)."""
    if expected_version is not None and expected_version != proposal.version:
        raise StaleVersion(
            "The proposal was changed by someone else since you loaded it: reload and edit again."
        )


def _edited(proposal: Proposal, *, actor: User, note: str, fields: list[str]) -> None:
    """Bump the proposal's version (its ETag) and write the audit row of a draft edit."""
    proposal.version += 1
    proposal.save(update_fields=["version", "updated_at"])
    ProposalEvent.objects.create(
        proposal=proposal,
        kind=EventKind.EDIT,
        old=proposal.status,
        new=proposal.status,
        actor=actor,
        note=note[:300],
        fields=sorted(fields),
    )


def _record(proposal: Proposal, *, old: str, new: str, actor: User | None, note: str = "") -> None:
    ProposalEvent.objects.create(proposal=proposal, old=old, new=new, actor=actor, note=note)


def _full_clean(obj: models.Model, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", exc.message_dict) from exc


def _part(
    model: type[Target] | type[ObservingRun] | type[CoInvestigator] | type[Figure],
    pk: int,
    *,
    actor: User,
    expected_version: int | None,
) -> tuple[Any, Proposal]:
    """Lock the proposal owning part ``pk``, then read the part under that lock."""
    proposal_id = model.objects.filter(pk=pk).values_list("proposal_id", flat=True).first()
    if proposal_id is None:
        raise model.DoesNotExist(f"No {model._meta.verbose_name} {pk}.")
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    return model.objects.get(pk=pk), proposal


def _delete_part(
    model: type[Target] | type[ObservingRun] | type[CoInvestigator] | type[Figure],
    pk: int,
    *,
    actor: User,
    expected_version: int | None,
    describe: Callable[[Any], str],
) -> Any:
    """Delete one part of a draft under the proposal's lock, with its audit row."""
    part, proposal = _part(model, pk, actor=actor, expected_version=expected_version)
    note = describe(part)
    part.delete()
    _edited(proposal, actor=actor, note=note, fields=[])
    return part


# --------------------------------------------------------------------------------------------
# The proposal
# --------------------------------------------------------------------------------------------


@transaction.atomic
def proposal_create(
    *,
    pi: User,
    period: Period,
    title: str,
    abstract: str = "",
    category: str = "",
    proposal_type: str = "normal",
    scientific_justification: str = "",
    keywords: list[str] | None = None,
) -> Proposal:
    """Open a draft proposal for the period's call; its author becomes the PI."""
    if not may_create_proposal(pi):
        raise NotAllowed("Only astronomers can open proposals.")
    if not period.call_is_open():
        raise InvalidInput(
            "The call is closed.", {"period": [f"The call for {period} is not open."]}
        )
    proposal = Proposal(
        period=period,
        pi=pi,
        title=title,
        abstract=abstract,
        category=category,
        proposal_type=proposal_type,
        scientific_justification=scientific_justification,
        keywords=rules.keywords(keywords or []),
    )
    _full_clean(proposal, exclude=["final_pdf"])
    proposal.save()
    return proposal


@transaction.atomic
def proposal_update(
    *, proposal_id: int, actor: User, data: ProposalData, expected_version: int | None = None
) -> Proposal:
    """Change the proposal's own text fields (those given in ``data``)."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    sent = data.sent()
    bad = [k for k, v in sent.items() if k != "keywords" and not isinstance(v, str)]
    if bad:
        raise InvalidInput("Invalid input.", {k: ["Give a text."] for k in bad})
    if "keywords" in sent:
        sent["keywords"] = rules.keywords(sent["keywords"])
    changed = set_changed(proposal, sent)
    _full_clean(proposal, exclude=["final_pdf"])
    if changed:
        proposal.save(update_fields=[*changed, "updated_at"])
        _edited(proposal, actor=actor, note="proposal text changed", fields=changed)
    return proposal


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------

TARGET_DEFAULTS: dict[str, Any] = {"magnitude": None, "pm_ra_mas_yr": 0.0, "pm_dec_mas_yr": 0.0}


def _unique_target_name(proposal: Proposal, name: str, exclude_pk: int = 0) -> None:
    if proposal.targets.filter(name=name).exclude(pk=exclude_pk).exists():
        raise InvalidInput(
            "Duplicate target.", {"name": [f"A target named {name} exists already."]}
        )


@transaction.atomic
def target_create(
    *, proposal_id: int, actor: User, data: TargetData, expected_version: int | None = None
) -> Target:
    """Add a target; coordinates in sexagesimal or degrees."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    values = rules.target_values({**TARGET_DEFAULTS, **data.sent()})
    _unique_target_name(proposal, values["name"])
    target = Target(proposal=proposal, **values)
    _full_clean(target)
    target.save()
    _edited(proposal, actor=actor, note=f"target {target.name} added", fields=list(values))
    return target


@transaction.atomic
def target_update(
    *, target_id: int, actor: User, data: TargetData, expected_version: int | None = None
) -> Target:
    """Change a target (the fields given in ``data``), merged under the proposal's lock."""
    target, proposal = _part(Target, target_id, actor=actor, expected_version=expected_version)
    stored = {
        "name": target.name,
        "ra": target.ra_deg,
        "dec": target.dec_deg,
        "magnitude": target.magnitude,
        "pm_ra_mas_yr": target.pm_ra_mas_yr,
        "pm_dec_mas_yr": target.pm_dec_mas_yr,
    }
    values = rules.target_values({**stored, **data.sent()})
    _unique_target_name(proposal, values["name"], exclude_pk=target.pk)
    changed = set_changed(target, values)
    _full_clean(target)
    if changed:
        target.save(update_fields=changed)
        _edited(proposal, actor=actor, note=f"target {target.name} changed", fields=changed)
    return target


@transaction.atomic
def target_delete(*, target_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a target (and from the runs that used it)."""
    _delete_part(
        Target,
        target_id,
        actor=actor,
        expected_version=expected_version,
        describe=lambda t: f"target {t.name} removed",
    )


# --------------------------------------------------------------------------------------------
# Observing runs
# --------------------------------------------------------------------------------------------


def _stored_run(run: ObservingRun) -> dict[str, Any]:
    return {
        "telescope": run.telescope_id,
        "instrument": run.instrument_id,
        "mode": run.mode,
        "hours": run.hours,
        "nights": run.nights,
        "max_fli": run.max_fli,
        "max_seeing_arcsec": run.max_seeing_arcsec,
        "transparency": run.transparency,
        "max_airmass": run.max_airmass,
        "target_ids": [t.pk for t in run.targets.all()],
        "preferred_dates": run.preferred_dates,
        "impossible_dates": run.impossible_dates,
    }


def _run_checked(proposal: Proposal, merged: dict[str, Any], data: RunData) -> rules.RunValues:
    return rules.run_values(
        merged,
        data.sent(),
        period=Period.objects.get(pk=proposal.period_id),
        target_ids=set(proposal.targets.values_list("pk", flat=True)),
    )


@transaction.atomic
def run_create(
    *, proposal_id: int, actor: User, data: RunData, expected_version: int | None = None
) -> ObservingRun:
    """Add an observing run; its letter is the next free one (A, B, ...)."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    checked = _run_checked(proposal, data.sent(), data)
    used = set(proposal.runs.values_list("letter", flat=True))
    letter = next((chr(c) for c in range(ord("A"), ord("Z") + 1) if chr(c) not in used), None)
    if letter is None:
        raise InvalidInput("Too many runs.", {"runs": ["A proposal has at most 26 runs."]})
    run = ObservingRun(
        proposal=proposal,
        letter=letter,
        telescope=checked.telescope,
        instrument=checked.instrument,
        **checked.fields,
    )
    _full_clean(run)
    run.save()
    run.targets.set(checked.target_ids)
    _edited(
        proposal,
        actor=actor,
        note=f"run {letter} added",
        fields=["telescope", "instrument", *checked.fields, "targets"],
    )
    return run


@transaction.atomic
def run_update(
    *, run_id: int, actor: User, data: RunData, expected_version: int | None = None
) -> ObservingRun:
    """Change an observing run (the fields given in ``data``), merged under the proposal's lock."""
    run, proposal = _part(ObservingRun, run_id, actor=actor, expected_version=expected_version)
    stored = _stored_run(run)
    checked = _run_checked(proposal, {**stored, **data.sent()}, data)
    changed = set_changed(
        run, {"telescope": checked.telescope, "instrument": checked.instrument, **checked.fields}
    )
    _full_clean(run)
    if changed:
        run.save(update_fields=changed)
    if checked.target_ids != sorted(stored["target_ids"]):
        run.targets.set(checked.target_ids)
        changed.append("targets")
    if changed:
        _edited(proposal, actor=actor, note=f"run {run.letter} changed", fields=changed)
    return run


@transaction.atomic
def run_delete(*, run_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove an observing run."""
    _delete_part(
        ObservingRun,
        run_id,
        actor=actor,
        expected_version=expected_version,
        describe=lambda r: f"run {r.letter} removed",
    )


# --------------------------------------------------------------------------------------------
# Co-investigators
# --------------------------------------------------------------------------------------------


@transaction.atomic
def coi_add(
    *, proposal_id: int, actor: User, email: str, expected_version: int | None = None
) -> CoInvestigator:
    """Invite a co-investigator by e-mail. Nobody is linked without accepting, and the answer is
    the same whether or not the address has an account (it reveals no account)."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    email = (email or "").strip().lower()
    coi = CoInvestigator(proposal=proposal, email=email)
    _full_clean(coi, exclude=["user", "proposal"])
    if proposal.coinvestigators.filter(email=email).exists() or proposal.pi.email.lower() == email:
        raise InvalidInput(
            "Already an investigator.", {"email": [f"{email} is already on this proposal."]}
        )
    coi.save()
    _edited(proposal, actor=actor, note=f"{email} invited", fields=["coinvestigators"])
    transaction.on_commit(lambda: _send_invitation(coi, proposal, actor))
    return coi


def _send_invitation(coi: CoInvestigator, proposal: Proposal, actor: User) -> None:
    link = settings.SITE_URL + reverse("proposals:accept_invitation", args=[coi.invitation_token])
    EmailMessage(
        subject=f"Invitation to join proposal '{proposal.title}'",
        body=(
            f"{actor.get_full_name() or actor.username} invites you as co-investigator of "
            f"'{proposal.title}'.\nOpen the link, then log in or create an account "
            f"with this e-mail address:\n{link}"
        ),
        to=[coi.email],
    ).send()


@transaction.atomic
def coi_accept(*, token: str, user: User) -> CoInvestigator:
    """Link an invited co-investigator to the account that accepts the invitation."""
    coi = CoInvestigator.objects.select_for_update().get(invitation_token=token)
    if coi.user_id and coi.user_id != user.pk:
        raise NotAllowed("This invitation was accepted by another account.")
    if coi.email.lower() != (user.email or "").lower():
        raise NotAllowed(f"This invitation is for {coi.email}; log in with that address.")
    if coi.user_id is None:
        coi.user = user
        coi.save(update_fields=["user"])
        proposal = Proposal.objects.select_for_update().get(pk=coi.proposal_id)
        _edited(proposal, actor=user, note=f"{coi.email} accepted", fields=["coinvestigators"])
    return coi


@transaction.atomic
def coi_remove(*, coi_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a co-investigator."""
    _delete_part(
        CoInvestigator,
        coi_id,
        actor=actor,
        expected_version=expected_version,
        describe=lambda c: f"{c.email} removed",
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@transaction.atomic
def figure_add(
    *,
    proposal_id: int,
    actor: User,
    file: IO[bytes],
    size: int,
    caption: str = "",
    expected_version: int | None = None,
) -> Figure:
    """Attach a PNG or JPEG figure, type checked by content, size-limited."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    image_format = check_figure(file, size)
    figure = Figure(proposal=proposal, caption=caption, image_format=image_format)
    _full_clean(figure, exclude=["image"])
    figure.image.save(f"figure.{image_format}", file, save=False)
    try:
        figure.save()
        _edited(proposal, actor=actor, note="figure added", fields=["figures"])
    except BaseException:
        figure.image.storage.delete(figure.image.name)  # no orphan file if the rows fail
        raise
    return figure


@transaction.atomic
def figure_delete(*, figure_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a figure and its file (after commit, so a rollback keeps it)."""
    figure = _delete_part(
        Figure,
        figure_id,
        actor=actor,
        expected_version=expected_version,
        describe=lambda f: f"figure {f.caption or f.pk} removed",
    )
    storage, name = figure.image.storage, figure.image.name
    transaction.on_commit(lambda: storage.delete(name))


# --------------------------------------------------------------------------------------------
# Status changes
# --------------------------------------------------------------------------------------------


def _lock_for_transition(
    proposal_id: int, *, actor: User, to: str, verb: str, expected_version: int | None
) -> Proposal:
    """Lock a proposal for a status change by its PI, checking the transition and If-Match."""
    proposal = Proposal.objects.select_for_update().select_related("period").get(pk=proposal_id)
    if not may_change_proposal_status(actor, proposal):
        raise NotAllowed(f"Only the PI can {verb} the proposal.")
    PROPOSAL_TRANSITIONS.check(proposal.status, to)
    _check_version(proposal, expected_version)
    return proposal


@transaction.atomic
def proposal_submit(
    *,
    proposal_id: int,
    actor: User,
    now: dt.datetime | None = None,
    expected_version: int | None = None,
    queue_final_pdf: bool = True,
) -> Proposal:
    """Submit a verified draft before the deadline: assign its programme ID and freeze it.

    ``queue_final_pdf=False`` (bulk demo data only) leaves the final PDF to be rendered on
    demand instead of queueing its task."""
    now = now or timezone.now()
    proposal = _lock_for_transition(
        proposal_id,
        actor=actor,
        to=ProposalStatus.SUBMITTED,
        verb="submit",
        expected_version=expected_version,
    )
    period = Period.objects.select_for_update().get(pk=proposal.period_id)  # serialises numbering
    if now >= period.deadline:
        raise InvalidInput(
            "The deadline has passed.",
            {"period": [f"The deadline for {period} was {period.deadline:%Y-%m-%d %H:%M} UTC."]},
        )
    report = verify_proposal(proposal)
    if report.errors:
        raise InvalidInput(
            "The proposal does not pass verification.",
            {"verification": [i.message for i in report.errors]},
        )
    number = (period.proposals.aggregate(n=Max("programme_number"))["n"] or 0) + 1
    old = proposal.status
    proposal.status = ProposalStatus.SUBMITTED
    proposal.programme_number = number
    proposal.programme_id = f"{period.number}.{proposal.category}-{number:04d}"
    proposal.submitted_at = now
    proposal.version += 1
    proposal.save(
        update_fields=[
            "status", "programme_number", "programme_id", "submitted_at", "version", "updated_at"
        ]
    )  # fmt: skip
    _record(proposal, old=old, new=proposal.status, actor=actor)
    if queue_final_pdf:
        from proposals.tasks import render_final_pdf

        transaction.on_commit(lambda: render_final_pdf.delay(proposal.pk))
    return proposal


@transaction.atomic
def proposal_withdraw(
    *,
    proposal_id: int,
    actor: User,
    now: dt.datetime | None = None,
    expected_version: int | None = None,
) -> Proposal:
    """Withdraw a submitted proposal, allowed to its PI until the deadline."""
    now = now or timezone.now()
    proposal = _lock_for_transition(
        proposal_id,
        actor=actor,
        to=ProposalStatus.WITHDRAWN,
        verb="withdraw",
        expected_version=expected_version,
    )
    if now >= proposal.period.deadline:
        raise InvalidInput(
            "The deadline has passed.", {"period": ["Withdrawal closes at the deadline."]}
        )
    old = proposal.status
    proposal.status = ProposalStatus.WITHDRAWN
    proposal.version += 1
    proposal.save(update_fields=["status", "version", "updated_at"])
    _record(proposal, old=old, new=proposal.status, actor=actor)
    return proposal


@transaction.atomic
def proposal_store_final_pdf(*, proposal_id: int) -> Proposal:
    """Render the submitted proposal's final PDF, store it and e-mail it to the PI (idempotent)."""
    from django.core.files.base import ContentFile

    from proposals.pdf import render_proposal_pdf

    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if proposal.status == ProposalStatus.DRAFT:
        raise InvalidInput("Only a submitted proposal has a final PDF.")
    if proposal.final_pdf:
        return proposal
    pdf = render_proposal_pdf(proposal.pk)
    proposal.final_pdf.save(f"{proposal.programme_id}.pdf", ContentFile(pdf), save=False)
    try:
        proposal.save(update_fields=["final_pdf", "updated_at"])
    except BaseException:
        proposal.final_pdf.storage.delete(proposal.final_pdf.name)  # no orphan file
        raise
    message = EmailMessage(
        subject=f"Proposal {proposal.programme_id} received",
        body=(
            f"Dear {proposal.pi.get_full_name() or proposal.pi.username},\n\nyour proposal "
            f"'{proposal.title}' was submitted as {proposal.programme_id}. "
            "Its final PDF is attached."
        ),
        to=[proposal.pi.email],
    )
    message.attach(f"{proposal.programme_id}.pdf", pdf, "application/pdf")
    transaction.on_commit(message.send)
    return proposal
