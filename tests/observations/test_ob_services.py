"""OB services: fields and their checks, versions (a stale one changes nothing), editing only
in P and - for service mode, templates (acquisition first and alone, parameter checks, every
change a new OB version), verification and the status changes, and who may do what."""

import pytest

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion, TransitionNotAllowed
from observations import services
from observations.commands import ItemRef, OBData
from observations.models import (
    Container,
    ItemType,
    ObservationBlock,
    OBStatus,
    Phase2Event,
    Template,
)
from tests.factories import TargetFactory
from tests.observations.conftest import IP_VERSION, Phase2

pytestmark = pytest.mark.django_db


def _ob(phase2: Phase2, run: str = "sm", container: Container | None = None) -> ObservationBlock:
    holder = container or phase2.root(getattr(phase2, run))
    return services.ob_create(container_id=holder.pk, name="OB 1", actor=phase2.pi)


def _complete(phase2: Phase2, ob: ObservationBlock) -> ObservationBlock:
    """Give ``ob`` a target, an acquisition and a filled science template."""
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk, values={"INS.FILT": "R_SPECIAL"}, actor=phase2.pi
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def _set_status(ob: ObservationBlock, status: str) -> None:
    ObservationBlock.objects.filter(pk=ob.pk).update(status=status)


def _events(ob: ObservationBlock) -> int:
    return Phase2Event.objects.filter(ob_id=ob.pk).count()


# -- creation and fields -----------------------------------------------------------------------


def test_a_new_ob_is_partial_with_the_runs_phase1_constraints(phase2: Phase2) -> None:
    ob = _ob(phase2)
    sm = phase2.sm
    assert (ob.status, ob.version, ob.ip_version) == (OBStatus.PARTIAL, 1, IP_VERSION)
    assert (ob.max_airmass, ob.seeing_arcsec, ob.max_fli) == (
        sm.max_airmass,
        sm.max_seeing_arcsec,
        sm.max_fli,
    )
    assert ob.sky_transparency == "Clear"  # Phase 1's "clear", in p2's words
    assert Phase2Event.objects.filter(ob=ob, kind="create", to_status="P").exists()


def test_an_update_parses_sexagesimal_coordinates_and_bumps_the_version(phase2: Phase2) -> None:
    ob = _ob(phase2)
    data = OBData(
        target_name="NGC 253",
        ra="00:47:33.1",
        dec="-25:17:18",
        pm_ra=0.01,
        max_airmass=1.5,
        sky_transparency="Thin",
        user_priority=3,
        user_comments="Use the blue filter if seeing is poor.",
    )
    updated = services.ob_update(ob_id=ob.pk, data=data, actor=phase2.pi, expected_version=1)
    assert updated.ra_deg == pytest.approx(11.888, abs=1e-3)
    assert updated.dec_deg == pytest.approx(-25.288, abs=1e-3)
    assert (updated.max_airmass, updated.sky_transparency, updated.user_priority) == (
        1.5,
        "Thin",
        3,
    )
    assert updated.version == 2
    event = Phase2Event.objects.filter(ob=ob, kind="edit").get()
    assert "ra_deg" in event.message and event.actor == phase2.pi


def test_an_update_that_changes_nothing_writes_nothing(phase2: Phase2) -> None:
    ob = _ob(phase2)
    before = _events(ob)
    services.ob_update(ob_id=ob.pk, data=OBData(name=ob.name), actor=phase2.pi)
    assert ObservationBlock.objects.get(pk=ob.pk).version == 1
    assert _events(ob) == before


def test_bad_values_are_refused_each_with_its_field_and_nothing_is_saved(phase2: Phase2) -> None:
    ob = _ob(phase2)
    data = OBData(
        name="",
        ra="25:00:00",
        dec="-95",
        max_airmass=0.5,
        max_fli=1.5,
        sky_transparency="cloudy",
        equinox="2000",
        user_priority=True,  # type: ignore[arg-type]  # what a careless client may send
        water_vapour_mm=0.0,
    )
    with pytest.raises(InvalidInput) as refused:
        services.ob_update(ob_id=ob.pk, data=data, actor=phase2.pi)
    assert set(refused.value.errors) == {
        "name", "ra", "dec", "max_airmass", "max_fli", "sky_transparency", "equinox",
        "user_priority", "water_vapour_mm",
    }  # fmt: skip
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert (stored.name, stored.ra_deg, stored.version) == ("OB 1", None, 1)


def test_a_stale_version_is_refused_and_nothing_changes(phase2: Phase2) -> None:
    ob = _ob(phase2)
    services.ob_update(ob_id=ob.pk, data=OBData(name="mine"), actor=phase2.coi)
    before = _events(ob)
    with pytest.raises(StaleVersion):
        services.ob_update(
            ob_id=ob.pk, data=OBData(name="theirs"), actor=phase2.pi, expected_version=1
        )
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert (stored.name, stored.version, _events(ob)) == ("mine", 2, before)


@pytest.mark.parametrize("status", ["D", "+", "S", "C"])
def test_a_service_mode_ob_is_frozen_outside_partial_and_repair(phase2: Phase2, status) -> None:
    ob = _ob(phase2)
    _set_status(ob, status)
    with pytest.raises(Frozen):
        services.ob_update(ob_id=ob.pk, data=OBData(max_airmass=1.2), actor=phase2.pi)
    with pytest.raises(Frozen):
        services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    with pytest.raises(Frozen):
        services.item_rename(item=ItemRef.ob(ob.pk), name="other", actor=phase2.pi)
    assert ObservationBlock.objects.get(pk=ob.pk).version == 1


def test_a_service_mode_ob_sent_back_can_be_repaired(phase2: Phase2) -> None:
    ob = _ob(phase2)
    _set_status(ob, OBStatus.REPAIR)
    updated = services.ob_update(ob_id=ob.pk, data=OBData(max_airmass=1.2), actor=phase2.pi)
    assert updated.max_airmass == 1.2


def test_a_visitor_mode_ob_stays_editable_after_submission(phase2: Phase2) -> None:
    ob = _ob(phase2, run="vm")
    _set_status(ob, OBStatus.DEFINED)
    updated = services.ob_update(ob_id=ob.pk, data=OBData(max_airmass=1.2), actor=phase2.pi)
    assert updated.max_airmass == 1.2


def test_contributions_belong_to_groups_and_delays_to_timelinks(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    link = services.container_create(
        parent_id=root.pk, item_type=ItemType.TIMELINK, name="t", actor=phase2.pi
    )
    loose, grouped, linked = _ob(phase2), _ob(phase2, container=group), _ob(phase2, container=link)
    with pytest.raises(InvalidInput) as refused:
        services.ob_update(
            ob_id=loose.pk, data=OBData(contribution=2.0, min_delay_s=60), actor=phase2.pi
        )
    assert set(refused.value.errors) == {"contribution", "min_delay_s"}
    assert (
        services.ob_update(
            ob_id=grouped.pk, data=OBData(contribution=2.0), actor=phase2.pi
        ).contribution
        == 2.0
    )
    day = 86400
    linked = services.ob_update(
        ob_id=linked.pk, data=OBData(min_delay_s=day, max_delay_s=3 * day), actor=phase2.pi
    )
    assert (linked.min_delay_s, linked.max_delay_s) == (day, 3 * day)
    with pytest.raises(InvalidInput, match="Invalid OB") as refused:
        services.ob_update(ob_id=linked.pk, data=OBData(max_delay_s=60), actor=phase2.pi)
    assert "max_delay_s" in refused.value.errors


def test_the_target_can_be_copied_from_the_runs_phase1_targets_only(phase2: Phase2) -> None:
    ob = _ob(phase2)
    copied = services.ob_copy_target_from_phase1(
        ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi, expected_version=1
    )
    assert (copied.target_name, copied.ra_deg, copied.dec_deg) == ("NGC 253", 11.888, -25.288)
    assert copied.pm_ra == pytest.approx(0.005)  # 5 mas/yr in Phase 1, arcsec/yr in p2
    assert copied.version == 2
    elsewhere = TargetFactory.create(name="M 31")  # a target of another proposal
    with pytest.raises(InvalidInput) as refused:
        services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=elsewhere.pk, actor=phase2.pi)
    assert "NGC 253" in refused.value.errors["target_id"][0]


# -- templates ---------------------------------------------------------------------------------


def test_a_template_starts_with_its_defaults_and_changes_the_obs_version(phase2: Phase2) -> None:
    ob = _ob(phase2)
    template = services.template_add(
        ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi, expected_version=1
    )
    assert template.values == {
        "DET.DIT": 3600.0,
        "SEQ.NEXPO": 1,
        "INS.FILT": None,
        "SEQ.OFFSETS": [0, 10],
        "DET.BINNING": False,
    }
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert stored.version == 2
    # preset 360 + setup 60 + one 3600 s exposure + one 30 s readout
    assert (stored.exposure_time_s, stored.execution_time_s) == (3600.0, 4050.0)
    assert Phase2Event.objects.filter(ob=ob, kind="template").count() == 1


def test_a_template_of_another_instrument_or_version_is_unknown(phase2: Phase2) -> None:
    ob = _ob(phase2)
    with pytest.raises(InvalidInput) as refused:
        services.template_add(ob_id=ob.pk, signature_name="UVES_dic1_obs", actor=phase2.pi)
    assert "FORS2_img_obs" in refused.value.errors["template_name"][0]


def test_the_acquisition_template_goes_first_and_there_is_at_most_one(phase2: Phase2) -> None:
    ob = _ob(phase2)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    acquisition = services.template_add(
        ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi
    )
    assert [t.pk for t in ob.templates.all()] == [acquisition.pk, science.pk]
    with pytest.raises(InvalidInput, match="One acquisition"):
        services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    assert ob.templates.count() == 2


def test_templates_reorder_but_the_acquisition_stays_first(phase2: Phase2) -> None:
    ob = _ob(phase2)
    acquisition = services.template_add(
        ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi
    )
    image = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    spectrum = services.template_add(ob_id=ob.pk, signature_name="FORS2_spec_obs", actor=phase2.pi)
    with pytest.raises(InvalidInput, match="acquisition comes first"):
        services.template_reorder(
            ob_id=ob.pk, template_ids=[image.pk, acquisition.pk, spectrum.pk], actor=phase2.pi
        )
    with pytest.raises(InvalidInput, match="Invalid order"):
        services.template_reorder(ob_id=ob.pk, template_ids=[acquisition.pk], actor=phase2.pi)
    version = ObservationBlock.objects.get(pk=ob.pk).version
    services.template_reorder(
        ob_id=ob.pk,
        template_ids=[acquisition.pk, spectrum.pk, image.pk],
        actor=phase2.pi,
        expected_version=version,
    )
    assert [t.pk for t in ob.templates.all()] == [acquisition.pk, spectrum.pk, image.pk]
    assert ObservationBlock.objects.get(pk=ob.pk).version == version + 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"DET.DIT": 0.1}, "DET.DIT"),  # below min
        ({"DET.DIT": "long"}, "DET.DIT"),  # not a number
        ({"SEQ.NEXPO": 2.5}, "SEQ.NEXPO"),  # not an integer
        ({"INS.FILT": "U_HIGH"}, "INS.FILT"),  # not allowed
        ({"DET.BINNING": "yes"}, "DET.BINNING"),  # not a boolean
        ({"SEQ.OFFSETS": [0, 500]}, "SEQ.OFFSETS"),  # an element out of range
        ({"TEL.FOCUS": 1.0}, "TEL.FOCUS"),  # unknown parameter
    ],
)
def test_template_values_are_checked_against_the_signature(
    phase2: Phase2, values: dict, field: str
) -> None:
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    before = ObservationBlock.objects.get(pk=ob.pk).version
    with pytest.raises(InvalidInput) as refused:
        services.template_set_values(template_id=template.pk, values=values, actor=phase2.pi)
    assert list(refused.value.errors) == [field]
    assert Template.objects.get(pk=template.pk).values["DET.DIT"] == 3600.0
    assert ObservationBlock.objects.get(pk=ob.pk).version == before


def test_setting_template_values_changes_the_obs_version_and_execution_time(
    phase2: Phase2,
) -> None:
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=template.pk,
        values={"DET.DIT": 120, "SEQ.NEXPO": 3, "INS.FILT": "B_HIGH"},
        actor=phase2.pi,
        expected_version=2,
    )
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert Template.objects.get(pk=template.pk).values["INS.FILT"] == "B_HIGH"
    assert stored.version == 3
    assert (stored.exposure_time_s, stored.execution_time_s) == (360.0, 360 + 60 + 360 + 90)
    with pytest.raises(StaleVersion):
        services.template_set_values(
            template_id=template.pk, values={"DET.DIT": 1}, actor=phase2.pi, expected_version=2
        )


def test_deleting_a_template_changes_the_obs_version(phase2: Phase2) -> None:
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_delete(template_id=template.pk, actor=phase2.pi, expected_version=2)
    stored = ObservationBlock.objects.get(pk=ob.pk)
    assert (stored.templates.count(), stored.version, stored.execution_time_s) == (0, 3, 0.0)


# -- verification and status -------------------------------------------------------------------


def test_an_incomplete_ob_is_not_submitted_and_verification_says_what_to_add(
    phase2: Phase2,
) -> None:
    ob = _ob(phase2)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_cal_flat", actor=phase2.pi)
    report = services.ob_verify(ob_id=ob.pk, actor=phase2.pi)
    assert any("RA and Dec" in e for e in report.errors)
    assert any("science template" in e for e in report.errors)
    with pytest.raises(InvalidInput) as refused:
        services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    assert refused.value.errors["verification"] == report.errors
    assert ObservationBlock.objects.get(pk=ob.pk).status == OBStatus.PARTIAL


def test_a_required_parameter_without_value_fails_verification(phase2: Phase2) -> None:
    ob = _ob(phase2)
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    report = services.ob_verify(ob_id=ob.pk, actor=phase2.pi)
    assert len(report.errors) == 1 and "INS.FILT" in report.errors[0]
    assert any("acquisition" in w for w in report.warnings)


def test_a_complete_ob_is_submitted_by_a_coinvestigator(phase2: Phase2) -> None:
    ob = _complete(phase2, _ob(phase2))
    submitted, report = services.ob_submit(
        ob_id=ob.pk, actor=phase2.coi, expected_version=ob.version
    )
    assert report.errors == [] and report.warnings == []
    assert (submitted.status, submitted.version) == (OBStatus.DEFINED, ob.version + 1)
    event = Phase2Event.objects.get(ob=ob, kind="status")
    assert (event.from_status, event.to_status, event.actor) == ("P", "D", phase2.coi)


def test_a_status_change_in_a_group_changes_the_groups_version(phase2: Phase2) -> None:
    root = phase2.root(phase2.sm)
    group = services.container_create(
        parent_id=root.pk, item_type=ItemType.GROUP, name="g", actor=phase2.pi
    )
    ob = _complete(phase2, _ob(phase2, container=group))
    before = Container.objects.get(pk=group.pk).version
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    assert Container.objects.get(pk=group.pk).version == before + 1


def test_a_submitted_ob_is_revised_back_to_partial(phase2: Phase2) -> None:
    ob = _complete(phase2, _ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    revised = services.ob_revise(ob_id=ob.pk, actor=phase2.pi)
    assert revised.status == OBStatus.PARTIAL
    with pytest.raises(TransitionNotAllowed):
        services.ob_revise(ob_id=ob.pk, actor=phase2.pi)


def test_staff_accept_a_submitted_ob(phase2: Phase2) -> None:
    ob = _complete(phase2, _ob(phase2))
    submitted, _ = services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    accepted = services.ob_accept(
        ob_id=ob.pk, actor=phase2.staff, expected_version=submitted.version
    )
    assert (accepted.status, accepted.version) == (OBStatus.ACCEPTED, submitted.version + 1)
    with pytest.raises(TransitionNotAllowed):
        services.ob_submit(ob_id=ob.pk, actor=phase2.pi)


def test_staff_send_an_ob_back_with_a_message_and_the_astronomers_repair_it(
    phase2: Phase2,
) -> None:
    ob = _complete(phase2, _ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    with pytest.raises(InvalidInput, match="Say what to repair"):
        services.ob_send_back(ob_id=ob.pk, message="  ", actor=phase2.staff)
    sent_back = services.ob_send_back(
        ob_id=ob.pk, message="Use I_BESS: the target is red.", actor=phase2.staff
    )
    assert sent_back.status == OBStatus.REPAIR
    event = Phase2Event.objects.filter(ob=ob, kind="status").last()
    assert event is not None
    assert (event.to_status, event.message) == ("-", "Use I_BESS: the target is red.")
    # the astronomers can edit and submit again
    services.ob_update(ob_id=ob.pk, data=OBData(max_airmass=2.0), actor=phase2.pi)
    assert services.ob_submit(ob_id=ob.pk, actor=phase2.pi)[0].status == OBStatus.DEFINED


def test_a_stale_status_change_is_refused(phase2: Phase2) -> None:
    ob = _complete(phase2, _ob(phase2))
    with pytest.raises(StaleVersion):
        services.ob_submit(ob_id=ob.pk, actor=phase2.pi, expected_version=ob.version - 1)
    assert ObservationBlock.objects.get(pk=ob.pk).status == OBStatus.PARTIAL


def test_astronomers_cannot_accept_or_send_back_their_own_obs(phase2: Phase2) -> None:
    ob = _complete(phase2, _ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    with pytest.raises(NotAllowed):
        services.ob_accept(ob_id=ob.pk, actor=phase2.pi)
    with pytest.raises(NotAllowed):
        services.ob_send_back(ob_id=ob.pk, message="no", actor=phase2.coi)
    assert ObservationBlock.objects.get(pk=ob.pk).status == OBStatus.DEFINED


def test_outsiders_can_neither_read_nor_change_an_ob(phase2: Phase2) -> None:
    ob = _ob(phase2)
    with pytest.raises(NotAllowed):
        services.ob_update(ob_id=ob.pk, data=OBData(name="mine"), actor=phase2.outsider)
    with pytest.raises(NotAllowed):
        services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.outsider)
    with pytest.raises(NotAllowed):
        services.ob_submit(ob_id=ob.pk, actor=phase2.outsider)
    with pytest.raises(NotAllowed):
        services.ob_verify(ob_id=ob.pk, actor=phase2.outsider)
    assert ObservationBlock.objects.get(pk=ob.pk).version == 1


def test_staff_read_and_review_but_do_not_edit(phase2: Phase2) -> None:
    ob = _ob(phase2)
    assert services.ob_verify(ob_id=ob.pk, actor=phase2.staff).errors
    with pytest.raises(NotAllowed):
        services.ob_update(ob_id=ob.pk, data=OBData(name="staff's"), actor=phase2.staff)
    waived = services.ob_set_short_waiver(ob_id=ob.pk, waived=True, actor=phase2.staff)
    assert (waived.short_ob_waived, waived.version) == (True, 2)
    with pytest.raises(NotAllowed):
        services.ob_set_short_waiver(ob_id=ob.pk, waived=False, actor=phase2.pi)


def test_a_template_or_chart_named_under_another_ob_is_not_found_and_stays(
    phase2: Phase2,
) -> None:
    from observations import ob_parts
    from observations.models import FindingChart
    from tests.observations.test_ob_parts import _image

    # given two OBs of the PI, a template and a chart on the second
    first, second = _ob(phase2), _ob(phase2)
    template = services.template_add(
        ob_id=second.pk, signature_name="FORS2_img_acq", actor=phase2.pi
    )
    chart = ob_parts.chart_add(
        ob_id=second.pk, name="a.jpg", content=_image("JPEG"), actor=phase2.pi
    )
    first_version = ObservationBlock.objects.get(pk=first.pk).version
    # when a caller names them under the first OB, with the first OB's version (If-Match)
    with pytest.raises(Template.DoesNotExist):
        services.template_delete(
            template_id=template.pk, ob_id=first.pk, actor=phase2.pi, expected_version=first_version
        )
    with pytest.raises(Template.DoesNotExist):
        services.template_set_values(
            template_id=template.pk, ob_id=first.pk, values={}, actor=phase2.pi
        )
    with pytest.raises(FindingChart.DoesNotExist):
        ob_parts.chart_remove(
            chart_id=chart.pk, ob_id=first.pk, actor=phase2.pi, expected_version=first_version
        )
    # then both are still there, on the second OB
    assert Template.objects.filter(pk=template.pk, ob=second).exists()
    assert FindingChart.objects.filter(pk=chart.pk, ob=second).exists()
