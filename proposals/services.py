"""Every write to Phase 1 data. Each service runs in a transaction and is the only code that
saves these models; state changes lock the row, check the transition table and write an event."""

import datetime as dt
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion
from dataflow.observatory.models import Instrument, Telescope
from proposals.coordinates import parse_dec, parse_ra
from proposals.figures import check_figure
from proposals.models import (
    CoInvestigator,
    Figure,
    Mode,
    ObservingRun,
    Period,
    Proposal,
    ProposalEvent,
    ProposalStatus,
    Target,
    Transparency,
)
from proposals.states import PROPOSAL_TRANSITIONS
from proposals.verification import verify_proposal

PROPOSAL_FIELDS = {"title", "abstract", "category", "proposal_type", "scientific_justification"}


def _lock_for_edit(*, proposal_id: int, actor: User, expected_version: int | None) -> Proposal:
    """Lock a draft for writing by its PI or a co-investigator, checking If-Match."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if not (proposal.pi_id == actor.pk or proposal.coinvestigators.filter(user=actor).exists()):
        raise NotAllowed("Only the PI and co-investigators may edit this proposal.")
    if not proposal.is_editable:
        raise Frozen(
            f"Proposal {proposal.programme_id or proposal.pk} is "
            f"{proposal.get_status_display().lower()} and can no longer be edited."
        )
    _check_version(proposal, expected_version)
    return proposal


def _check_version(proposal: Proposal, expected_version: int | None) -> None:
    """If-Match: refuse a write based on a stale copy (None: the client did not ask)."""
    if expected_version is not None and expected_version != proposal.version:
        raise StaleVersion(
            "The proposal was changed by someone else since you loaded it: reload and edit again."
        )


def _touch(proposal: Proposal) -> None:
    proposal.version += 1
    proposal.save(update_fields=["version", "updated_at"])


def _delete_part(
    part: Target | ObservingRun | CoInvestigator | Figure,
    *,
    actor: User,
    expected_version: int | None,
) -> None:
    """Delete one part of a draft under the proposal's lock, bumping its version."""
    proposal = _lock_for_edit(
        proposal_id=part.proposal_id, actor=actor, expected_version=expected_version
    )
    part.delete()
    _touch(proposal)


def _full_clean(obj: Any, exclude: list[str] | None = None) -> None:
    from django.core.exceptions import ValidationError

    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise InvalidInput("Invalid input.", exc.message_dict) from exc


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
) -> Proposal:
    """Open a draft proposal for the period's call."""
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
    )
    _full_clean(proposal, exclude=["final_pdf"])
    proposal.save()
    return proposal


@transaction.atomic
def proposal_update(
    *, proposal_id: int, actor: User, expected_version: int | None = None, **fields: Any
) -> Proposal:
    """Change the proposal's own text fields."""
    unknown = set(fields) - PROPOSAL_FIELDS
    if unknown:
        raise InvalidInput(
            "Unknown fields.", {f: ["This field cannot be changed here."] for f in unknown}
        )
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    for name, value in fields.items():
        setattr(proposal, name, value)
    _full_clean(proposal, exclude=["final_pdf"])
    proposal.version += 1
    proposal.save()
    return proposal


def _target_values(
    *,
    name: str,
    ra: str | float,
    dec: str | float,
    magnitude: float | None,
    pm_ra_mas_yr: float,
    pm_dec_mas_yr: float,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "name": (name or "").strip(),
        "magnitude": magnitude,
        "pm_ra_mas_yr": pm_ra_mas_yr or 0.0,
        "pm_dec_mas_yr": pm_dec_mas_yr or 0.0,
    }
    if not values["name"]:
        errors["name"] = ["A target needs a name."]
    for key, parse, field in (("ra_deg", parse_ra, "ra"), ("dec_deg", parse_dec, "dec")):
        try:
            values[key] = parse(ra if field == "ra" else dec)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput("Invalid target.", errors)
    return values


@transaction.atomic
def target_create(
    *,
    proposal_id: int,
    actor: User,
    name: str,
    ra: str | float,
    dec: str | float,
    magnitude: float | None = None,
    pm_ra_mas_yr: float = 0.0,
    pm_dec_mas_yr: float = 0.0,
    expected_version: int | None = None,
) -> Target:
    """Add a target; coordinates in sexagesimal or degrees."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    values = _target_values(
        name=name,
        ra=ra,
        dec=dec,
        magnitude=magnitude,
        pm_ra_mas_yr=pm_ra_mas_yr,
        pm_dec_mas_yr=pm_dec_mas_yr,
    )
    if proposal.targets.filter(name=values["name"]).exists():
        raise InvalidInput(
            "Duplicate target.", {"name": [f"A target named {values['name']} exists already."]}
        )
    target = Target(proposal=proposal, **values)
    _full_clean(target)
    target.save()
    _touch(proposal)
    return target


@transaction.atomic
def target_update(
    *,
    target_id: int,
    actor: User,
    name: str,
    ra: str | float,
    dec: str | float,
    magnitude: float | None = None,
    pm_ra_mas_yr: float = 0.0,
    pm_dec_mas_yr: float = 0.0,
    expected_version: int | None = None,
) -> Target:
    """Change a target."""
    target = Target.objects.get(pk=target_id)
    proposal = _lock_for_edit(
        proposal_id=target.proposal_id, actor=actor, expected_version=expected_version
    )
    values = _target_values(
        name=name,
        ra=ra,
        dec=dec,
        magnitude=magnitude,
        pm_ra_mas_yr=pm_ra_mas_yr,
        pm_dec_mas_yr=pm_dec_mas_yr,
    )
    if proposal.targets.filter(name=values["name"]).exclude(pk=target.pk).exists():
        raise InvalidInput(
            "Duplicate target.", {"name": [f"A target named {values['name']} exists already."]}
        )
    for key, value in values.items():
        setattr(target, key, value)
    _full_clean(target)
    target.save()
    _touch(proposal)
    return target


@transaction.atomic
def target_delete(*, target_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a target (and from the runs that used it)."""
    _delete_part(Target.objects.get(pk=target_id), actor=actor, expected_version=expected_version)


def _parse_dates(values: list[Any] | str | None, field: str) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = [v for v in values.replace(";", ",").replace("\n", ",").split(",") if v.strip()]
    out = []
    for v in values:
        try:
            out.append(dt.date.fromisoformat(str(v).strip()).isoformat())
        except ValueError as exc:
            raise InvalidInput(
                "Bad date.", {field: [f"'{v}' is not a date (YYYY-MM-DD)."]}
            ) from exc
    return sorted(set(out))


def _apply_run_values(
    run: ObservingRun, proposal: Proposal, values: dict[str, Any]
) -> list[Target]:
    """Validate and set a run's fields; return its targets (set after save)."""
    errors: dict[str, list[str]] = {}
    telescope = values.get("telescope")
    instrument = values.get("instrument")
    if isinstance(telescope, int | str):
        telescope = (
            Telescope.objects.filter(pk=telescope).first() if str(telescope).isdigit() else None
        ) or (Telescope.objects.filter(name=telescope).first())
    if isinstance(instrument, int | str):
        instrument = (
            Instrument.objects.filter(pk=instrument).first()
            if str(instrument).isdigit()
            else (Instrument.objects.filter(name=instrument, telescope=telescope).first())
        )
    if telescope is None:
        errors["telescope"] = ["Choose a telescope."]
    if instrument is None:
        errors["instrument"] = ["Choose an instrument."]
    elif telescope is not None and instrument.telescope_id != telescope.pk:
        errors["instrument"] = [f"{instrument.name} is not an instrument of {telescope.name}."]
    mode = values.get("mode", Mode.SM)
    if mode not in Mode.values:
        errors["mode"] = [f"Mode must be one of {', '.join(Mode.values)}."]
    for key in ("hours", "nights"):
        v = values.get(key)
        if v is not None and v <= 0:
            errors[key] = ["Requested time must be positive."]
    transparency = values.get("transparency", Transparency.CLEAR)
    if transparency not in Transparency.values:
        errors["transparency"] = [f"Choose one of {', '.join(Transparency.values)}."]
    target_ids = values.get("target_ids") or []
    targets = list(proposal.targets.filter(pk__in=target_ids))
    if len(targets) != len(set(target_ids)):
        errors["target_ids"] = ["Every target of a run must be a target of this proposal."]
    try:
        preferred = _parse_dates(values.get("preferred_dates"), "preferred_dates")
        impossible = _parse_dates(values.get("impossible_dates"), "impossible_dates")
    except InvalidInput as exc:
        errors.update(exc.errors)
        preferred = impossible = []
    if errors:
        raise InvalidInput("Invalid observing run.", errors)
    run.telescope, run.instrument, run.mode = telescope, instrument, mode
    run.hours, run.nights = values.get("hours"), values.get("nights")
    for key in ("max_fli", "max_seeing_arcsec", "max_airmass"):
        if values.get(key) is not None:
            setattr(run, key, values[key])
    run.transparency = transparency
    run.preferred_dates, run.impossible_dates = preferred, impossible
    _full_clean(run)
    return targets


@transaction.atomic
def run_create(
    *, proposal_id: int, actor: User, expected_version: int | None = None, **values: Any
) -> ObservingRun:
    """Add an observing run; its letter is the next free one (A, B, ...)."""
    proposal = _lock_for_edit(
        proposal_id=proposal_id, actor=actor, expected_version=expected_version
    )
    used = set(proposal.runs.values_list("letter", flat=True))
    letter = next(chr(c) for c in range(ord("A"), ord("Z") + 1) if chr(c) not in used)
    run = ObservingRun(proposal=proposal, letter=letter)
    targets = _apply_run_values(run, proposal, values)
    run.save()
    run.targets.set(targets)
    _touch(proposal)
    return run


@transaction.atomic
def run_update(
    *, run_id: int, actor: User, expected_version: int | None = None, **values: Any
) -> ObservingRun:
    """Change an observing run."""
    run = ObservingRun.objects.get(pk=run_id)
    proposal = _lock_for_edit(
        proposal_id=run.proposal_id, actor=actor, expected_version=expected_version
    )
    targets = _apply_run_values(run, proposal, values)
    run.save()
    run.targets.set(targets)
    _touch(proposal)
    return run


@transaction.atomic
def run_delete(*, run_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove an observing run."""
    _delete_part(
        ObservingRun.objects.get(pk=run_id), actor=actor, expected_version=expected_version
    )


@transaction.atomic
def coi_add(
    *, proposal_id: int, actor: User, email: str, expected_version: int | None = None
) -> CoInvestigator:
    """Add a co-investigator by e-mail: linked if the user exists, invited otherwise."""
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
    coi.user = User.objects.filter(email__iexact=email).first()
    coi.save()
    _touch(proposal)
    if coi.user is None:
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
    coi.user = user
    coi.save(update_fields=["user"])
    return coi


@transaction.atomic
def coi_remove(*, coi_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a co-investigator."""
    _delete_part(
        CoInvestigator.objects.get(pk=coi_id), actor=actor, expected_version=expected_version
    )


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
    figure.image.save(f"figure.{image_format}", file, save=False)
    try:
        figure.save()
        _touch(proposal)
    except BaseException:
        figure.image.storage.delete(figure.image.name)  # no orphan file if the rows fail
        raise
    return figure


@transaction.atomic
def figure_delete(*, figure_id: int, actor: User, expected_version: int | None = None) -> None:
    """Remove a figure and its file (after commit, so a rollback keeps it)."""
    figure = Figure.objects.get(pk=figure_id)
    storage, name = figure.image.storage, figure.image.name
    _delete_part(figure, actor=actor, expected_version=expected_version)
    transaction.on_commit(lambda: storage.delete(name))


def _record(proposal: Proposal, *, old: str, new: str, actor: User | None, note: str = "") -> None:
    ProposalEvent.objects.create(proposal=proposal, old=old, new=new, actor=actor, note=note)


def _lock_for_transition(
    proposal_id: int, *, actor: User, to: str, verb: str, expected_version: int | None
) -> Proposal:
    """Lock a proposal for a status change by its PI, checking the transition and If-Match."""
    proposal = Proposal.objects.select_for_update().select_related("period").get(pk=proposal_id)
    if proposal.pi_id != actor.pk:
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
) -> Proposal:
    """Submit a verified draft before the deadline: assign its programme ID and freeze it."""
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
    proposal.save()
    _record(proposal, old=old, new=proposal.status, actor=actor)
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
    proposal.save(update_fields=["final_pdf", "updated_at"])
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
