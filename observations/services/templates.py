"""An OB's templates: added, their parameters set, removed, reordered."""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from dataflow.errors import InvalidInput
from observations import parameters, rules, selectors
from observations.models import (
    ObservationBlock,
    Template,
    TemplateSignature,
    TemplateType,
)
from observations.services.base import (
    EventKind,
    _bump,
    _check_version,
    _event,
    _lock_ob,
    _lock_ob_for_edit,
    ensure_may_edit_ob,
)
from proposals.models import ObservingRun

# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def _lock_template(
    template_id: int, named_ob_id: int | None = None
) -> tuple[Template, ObservationBlock, ObservingRun]:
    """Lock the template's OB and run; a template of another OB than the one the caller named
    (``named_ob_id``, whose version its If-Match carries) is not found."""
    ob_id = Template.objects.filter(pk=template_id).values_list("ob_id", flat=True).first()
    if ob_id is None or named_ob_id not in (None, ob_id):
        raise Template.DoesNotExist(f"No template {template_id}.")
    ob, run = _lock_ob(ob_id)
    return Template.objects.select_related("signature").get(pk=template_id), ob, run


def _renumber(templates: list[Template]) -> None:
    for position, template in enumerate(templates):
        template.position = position
    Template.objects.bulk_update(templates, ["position"])


def _templates_changed(ob: ObservationBlock, run: ObservingRun, actor: User, message: str) -> None:
    """Any change to an OB's templates is a change of the OB: a new version, its execution
    time computed again, and an event."""
    breakdown, _ = selectors.ob_breakdown(ob, list(ob.templates.select_related("signature")))
    ob.exposure_time_s, ob.execution_time_s = breakdown.exposure_s, breakdown.execution_s
    _bump(ob, "exposure_time_s", "execution_time_s")
    _event(run, actor, EventKind.TEMPLATE, ob=ob, message=message)


@transaction.atomic
def template_add(
    *, ob_id: int, signature_name: str, actor: User, expected_version: int | None = None
) -> Template:
    """Add a template of the run's instrument (at the OB's instrument-package version) with
    its default values: an acquisition template first (at most one), others at the end."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    signatures = TemplateSignature.objects.filter(
        instrument_id=run.instrument_id, ip_version=ob.ip_version
    )
    signature = signatures.filter(name=signature_name).first()
    if signature is None:
        names = ", ".join(signatures.values_list("name", flat=True)) or "none"
        raise InvalidInput(
            "Unknown template.",
            {
                "template_name": [
                    f"{run.instrument.name} {ob.ip_version or '(no package)'} has no template "
                    f"'{signature_name}'; it has: {names}."
                ]
            },
        )
    # of=("self",): never lock the signatures, which every run of the instrument shares.
    templates = list(ob.templates.select_related("signature").select_for_update(of=("self",)))
    new = Template(ob=ob, signature=signature, values=parameters.defaults(signature.parameters))
    if signature.type == TemplateType.ACQUISITION:
        present = [t for t in templates if t.signature.type == TemplateType.ACQUISITION]
        if present:
            raise InvalidInput(
                "One acquisition template per OB.",
                {
                    "template_name": [
                        f"The OB has an acquisition template ({present[0].signature.name}): "
                        "delete it first."
                    ]
                },
            )
        templates.insert(0, new)  # the acquisition comes first
    else:
        templates.append(new)
    new.position = templates.index(new)
    new.save()
    _renumber(templates)
    _templates_changed(ob, run, actor, f"{signature.name} added")
    return new


@transaction.atomic
def template_set_values(
    *,
    template_id: int,
    values: dict[str, Any],
    actor: User,
    expected_version: int | None = None,
    ob_id: int | None = None,
) -> Template:
    """Set some parameter values of a template (type, range, allowed values checked);
    ``expected_version`` is the OB's (``ob_id``, if the caller names it)."""
    template, ob, run = _lock_template(template_id, ob_id)
    ensure_may_edit_ob(ob, run, actor)
    _check_version(ob, expected_version)
    if not isinstance(values, dict):
        raise InvalidInput("Invalid values.", {"values": ["Give parameter names and values."]})
    errors = rules.template_value_errors(template.signature.parameters, values)
    if errors:
        raise InvalidInput("Invalid template values.", errors)
    merged = {**template.values, **values}
    if merged != template.values:
        template.values = merged
        template.save(update_fields=["values"])
        _templates_changed(
            ob, run, actor, f"{template.signature.name}: {', '.join(sorted(values))}"
        )
    return template


@transaction.atomic
def template_delete(
    *, template_id: int, actor: User, expected_version: int | None = None, ob_id: int | None = None
) -> None:
    """Remove a template from its OB; ``expected_version`` is the OB's (``ob_id``, if the
    caller names it)."""
    template, ob, run = _lock_template(template_id, ob_id)
    ensure_may_edit_ob(ob, run, actor)
    _check_version(ob, expected_version)
    name = template.signature.name
    template.delete()
    _renumber(list(ob.templates.all()))
    _templates_changed(ob, run, actor, f"{name} removed")


@transaction.atomic
def template_reorder(
    *, ob_id: int, template_ids: Sequence[int], actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Put an OB's templates in the given order (each once; an acquisition template first)."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    locked = ob.templates.select_related("signature").select_for_update(of=("self",))
    templates = {t.pk: t for t in locked}
    given = list(template_ids)
    if len(set(given)) != len(given) or set(given) != set(templates):
        raise InvalidInput(
            "Invalid order.",
            {"template_ids": [f"Give each of the OB's templates once: {sorted(templates)}."]},
        )
    ordered = [templates[pk] for pk in given]
    if any(t.signature.type == TemplateType.ACQUISITION for t in ordered[1:]):
        raise InvalidInput(
            "The acquisition comes first.",
            {"template_ids": ["Put the acquisition template first."]},
        )
    if [t.position for t in ordered] != list(range(len(ordered))):
        _renumber(ordered)
        _templates_changed(ob, run, actor, "templates reordered")
    return ob
