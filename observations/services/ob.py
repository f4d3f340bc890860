"""An OB's own fields, its target copied from Phase 1, its verification."""

from django.contrib.auth.models import User
from django.db import transaction

from dataflow.changes import set_changed
from dataflow.errors import InvalidInput
from observations import access, rules
from observations.commands import OBData
from observations.models import (
    Container,
    ObservationBlock,
)
from observations.services.base import (
    EventKind,
    _bump,
    _event,
    _lock_ob_for_edit,
)
from proposals.models import Target

# --------------------------------------------------------------------------------------------
# The OB
# --------------------------------------------------------------------------------------------


@transaction.atomic
def ob_update(
    *, ob_id: int, data: OBData, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Change an OB's fields (those given in ``data``), merged under its lock."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    changed = set_changed(ob, rules.ob_values(ob, data.sent()))
    if changed:
        _bump(ob, *changed)
        if "contribution" in changed:
            # a member's share moves its group's score, whatever the member's status: the
            # night's candidate arrays watch the containers' versions for that
            _bump(Container.objects.select_for_update().get(pk=ob.container_id))
        kind = EventKind.RENAME if changed == ["name"] else EventKind.EDIT
        _event(run, actor, kind, ob=ob, message=", ".join(changed))
    return ob


@transaction.atomic
def ob_copy_target_from_phase1(
    *, ob_id: int, target_id: int, actor: User, expected_version: int | None = None
) -> ObservationBlock:
    """Set the OB's target from one of its run's Phase 1 targets (J2000, epoch 2000)."""
    ob, run = _lock_ob_for_edit(ob_id, actor, expected_version)
    target = Target.objects.filter(pk=target_id, runs=run).first()
    if target is None:
        names = ", ".join(f"{t.pk} ({t.name})" for t in run.targets.all()) or "none"
        raise InvalidInput(
            "Not a target of this run.",
            {"target_id": [f"Choose one of run {run}'s Phase 1 targets: {names}."]},
        )
    changed = set_changed(
        ob,
        {
            "target_name": target.name,
            "ra_deg": target.ra_deg,
            "dec_deg": target.dec_deg,
            "pm_ra": target.pm_ra_mas_yr / 1000.0,  # Phase 1 stores mas/yr, p2 arcsec/yr
            "pm_dec": target.pm_dec_mas_yr / 1000.0,
            "equinox": "J2000",
            "epoch": 2000.0,
        },
    )
    if changed:
        _bump(ob, *changed)
        _event(run, actor, EventKind.EDIT, ob=ob, message=f"target from Phase 1 {target.pk}")
    return ob


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------


def ob_verify(*, ob_id: int, actor: User) -> rules.Verification:
    """Verify an OB without changing it (its readers may ask)."""
    ob = ObservationBlock.objects.select_related("run__proposal", "run__decision").get(pk=ob_id)
    access.ensure_may_read(actor, ob.run)
    return rules.verify(ob)
