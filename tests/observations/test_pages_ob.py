"""The OB editor through Django's test client: its fields, copying a Phase 1 target, template
forms generated from the signatures, windows, finding charts, the execution-time breakdown,
the visibility plots, verify / submit / revise and the send-back message. Every form's happy
path changes what it should; bad input shows the field messages and changes nothing; a stale
version shows "changed meanwhile" and changes nothing."""

import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from observations import ob_parts, services
from observations.commands import OBData
from observations.models import (
    AbsoluteWindow,
    FindingChart,
    ObservationBlock,
    OBStatus,
    SiderealWindow,
    Template,
)
from tests.observations.conftest import Phase2

pytestmark = pytest.mark.django_db

STALE = "Changed meanwhile"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ob(phase2: Phase2, run: str = "sm") -> ObservationBlock:
    root = phase2.root(getattr(phase2, run))
    return services.ob_create(container_id=root.pk, name="OB 1", actor=phase2.pi)


def _complete(phase2: Phase2, ob: ObservationBlock) -> ObservationBlock:
    """A target, an acquisition and an hour-long science template: it passes verification."""
    services.ob_copy_target_from_phase1(ob_id=ob.pk, target_id=phase2.target.pk, actor=phase2.pi)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.template_set_values(
        template_id=science.pk,
        values={"INS.FILT": "R_SPECIAL", "DET.DIT": 3600.0},
        actor=phase2.pi,
    )
    return ObservationBlock.objects.get(pk=ob.pk)


def _url(name: str, ob: ObservationBlock) -> str:
    return reverse(f"phase2:{name}", kwargs={"ob_id": ob.pk})


def _fresh(ob: ObservationBlock) -> ObservationBlock:
    return ObservationBlock.objects.get(pk=ob.pk)


def _state(ob: ObservationBlock) -> tuple[object, ...]:
    """Everything of the OB a page could change."""
    fresh = _fresh(ob)
    fields = {f.attname: getattr(fresh, f.attname) for f in ObservationBlock._meta.concrete_fields}
    return (
        fields,
        list(Template.objects.filter(ob=ob).values_list("pk", "position", "values")),
        list(AbsoluteWindow.objects.filter(ob=ob).values_list("start", "end")),
        list(SiderealWindow.objects.filter(ob=ob).values_list("start_min", "end_min")),
        list(FindingChart.objects.filter(ob=ob).values_list("pk", "name")),
    )


def _ob_post(ob: ObservationBlock, **overrides: Any) -> dict[str, Any]:
    fresh = _fresh(ob)
    data: dict[str, Any] = {
        "version": fresh.version,
        "name": fresh.name,
        "user_priority": fresh.user_priority,
        "user_comments": fresh.user_comments,
        "target_name": fresh.target_name,
        "ra": "" if fresh.ra_deg is None else str(fresh.ra_deg),
        "dec": "" if fresh.dec_deg is None else str(fresh.dec_deg),
        "equinox": fresh.equinox,
        "epoch": fresh.epoch,
        "pm_ra": fresh.pm_ra,
        "pm_dec": fresh.pm_dec,
        "max_airmass": fresh.max_airmass,
        "seeing_arcsec": fresh.seeing_arcsec,
        "sky_transparency": fresh.sky_transparency,
        "max_fli": fresh.max_fli,
        "min_moon_distance_deg": fresh.min_moon_distance_deg,
        "twilight_min": fresh.twilight_min,
        "water_vapour_mm": fresh.water_vapour_mm,
    }
    data.update(overrides)
    return data


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), (20, 30, 60)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (20, 30, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- the page ------------------------------------------------------------------------------------


def test_the_editor_shows_every_part_with_stable_ids(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    # when
    html = _client(phase2.coi).get(_url("ob", ob)).content.decode()
    # then
    for element in (
        'id="ob-name"',
        'id="ob-ra"',
        'id="ob-max_airmass"',
        'id="ob-save"',
        'id="copy-target_id"',
        'id="template-add-signature_name"',
        'id="tpl2-DET-DIT"',
        'id="ob-verify"',
        'id="ob-submit"',
        'id="exec-total"',
        'id="visibility-date"',
        'id="visibility-night"',
        'id="visibility-period"',
    ):
        assert element in html, element
    assert 'data-template-name="FORS2_img_obs"' in html


def test_the_execution_time_breakdown_adds_up_to_the_obs_execution_time(phase2: Phase2) -> None:
    # given: overheads 360 s preset + 120 s acquisition + 60 s setup + 30 s readout, 3600 s
    ob = _complete(phase2, _ob(phase2))
    # when
    html = _client(phase2.pi).get(_url("ob", ob)).content.decode()
    # then
    assert ob.execution_time_s == 360 + 120 + 60 + 3600 + 30
    assert '<th class="num mono" id="exec-total">1:09:30</th>' in html
    assert "FORS2_img_obs: 1 x 3600 s exposure" in html
    assert "FORS2_img_acq: acquisition" in html


def test_the_visibility_plots_follow_the_chosen_night(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    night = phase2.proposal.period.start.isoformat()
    # when
    html = _client(phase2.pi).get(_url("ob", ob), {"date": night}).content.decode()
    # then
    night_url = reverse("phase2:ob_visibility_night", kwargs={"ob_id": ob.pk})
    period_url = reverse("phase2:ob_visibility_period", kwargs={"ob_id": ob.pk})
    assert f'src="{night_url}?date={night}"' in html
    assert f'src="{period_url}"' in html
    assert f'value="{night}"' in html


def test_the_team_edits_and_staff_only_read(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    # when
    page = _client(phase2.staff).get(_url("ob", ob)).content.decode()
    refused = _client(phase2.staff).post(_url("ob", ob), _ob_post(ob, name="Staff's"))
    # then
    assert 'id="ob-readonly"' in page
    assert 'id="ob-save"' not in page and 'id="ob-submit"' not in page
    assert refused.status_code == 403
    assert _state(ob) == before


def test_an_outsider_gets_404_for_the_editor_and_its_forms(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    client = _client(phase2.outsider)
    # when
    statuses = [
        client.get(_url("ob", ob)).status_code,
        client.post(_url("ob", ob), _ob_post(ob, name="Mine")).status_code,
        client.post(_url("ob_submit", ob), {"status-version": 1}).status_code,
    ]
    # then
    assert statuses == [404, 404, 404]
    assert _state(ob) == before


# -- the OB's fields -----------------------------------------------------------------------------


def test_saving_the_obs_fields(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    # when
    response = _client(phase2.pi).post(
        _url("ob", ob),
        _ob_post(
            ob,
            name="NGC 253 disk",
            target_name="NGC 253",
            ra="00:47:33.1",
            dec="-25:17:18",
            max_airmass="1.5",
            seeing_arcsec="0.8",
            sky_transparency="Photometric",
        ),
    )
    # then
    fresh = _fresh(ob)
    assert response.status_code == 302
    assert (fresh.name, fresh.target_name, fresh.max_airmass, fresh.seeing_arcsec) == (
        "NGC 253 disk",
        "NGC 253",
        1.5,
        0.8,
    )
    assert fresh.sky_transparency == "Photometric"
    assert fresh.ra_deg == pytest.approx(11.888, abs=1e-3)
    assert fresh.dec_deg == pytest.approx(-25.288, abs=1e-3)
    assert fresh.version == ob.version + 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_airmass", "abc", "Enter a number."),
        ("max_airmass", "9", "9"),  # the service's range check, next to the field
        ("ra", "25:00:00", "Right ascension 25:00:00 is outside 0..24 h."),
        ("name", "", "This field is required."),
    ],
)
def test_bad_ob_input_shows_field_messages_and_changes_nothing(
    phase2: Phase2, field: str, value: str, message: str
) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(_url("ob", ob), _ob_post(ob, **{field: value}))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    block = html[html.index(f'data-field="{field}"') :].split("</div>")[0]
    assert "errorlist" in block and message in block
    assert _state(ob) == before


def test_a_stale_ob_form_says_it_changed_meanwhile_and_changes_nothing(phase2: Phase2) -> None:
    # given: the page was loaded, then a co-investigator saved the OB
    ob = _ob(phase2)
    shown = _ob_post(ob, name="Mine")
    services.ob_update(ob_id=ob.pk, data=OBData(name="Theirs"), actor=phase2.coi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(_url("ob", ob), shown)
    # then
    assert response.status_code == 200
    assert STALE in response.content.decode()
    assert _state(ob) == before
    assert _fresh(ob).name == "Theirs"


def test_a_submitted_sm_ob_is_shown_frozen_and_its_form_refused(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    before = _state(ob)
    client = _client(phase2.pi)
    # when
    page = client.get(_url("ob", ob)).content.decode()
    refused = client.post(_url("ob", ob), _ob_post(ob, name="Changed"))
    # then
    assert 'id="ob-frozen"' in page and 'id="ob-revise"' in page
    assert 'id="ob-save"' not in page
    assert refused.status_code == 200
    assert "can be changed only while partially defined" in refused.content.decode()
    assert _state(ob) == before


def test_copying_a_phase1_target(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    # when
    response = _client(phase2.pi).post(
        _url("ob_copy_target", ob), {"version": ob.version, "target_id": phase2.target.pk}
    )
    # then
    fresh = _fresh(ob)
    assert response.status_code == 302
    assert (fresh.target_name, fresh.ra_deg, fresh.dec_deg) == ("NGC 253", 11.888, -25.288)
    assert fresh.pm_ra == pytest.approx(0.005)


def test_copying_a_target_of_another_proposal_is_refused(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("ob_copy_target", ob), {"version": ob.version, "target_id": 999999}
    )
    # then
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert _state(ob) == before


# -- templates -----------------------------------------------------------------------------------


def test_adding_a_template_gives_it_a_form_from_its_signature(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    client = _client(phase2.pi)
    # when
    response = client.post(
        _url("template_add", ob), {"version": ob.version, "signature_name": "FORS2_img_obs"}
    )
    html = client.get(_url("ob", ob)).content.decode()
    # then
    assert response.status_code == 302
    assert Template.objects.filter(ob=ob).count() == 1
    section = html[html.index('id="template-1"') :].split("</section>")[0]
    assert 'type="number" name="DET.DIT" value="3600.0"' in section
    assert 'name="SEQ.NEXPO"' in section
    assert '<select name="INS.FILT"' in section and '<option value="B_HIGH">' in section
    assert 'type="checkbox" name="DET.BINNING"' in section
    assert 'name="SEQ.OFFSETS" value="0, 10"' in section


def test_a_second_acquisition_template_is_refused_next_to_the_field(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    services.template_add(ob_id=ob.pk, signature_name="FORS2_img_acq", actor=phase2.pi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("template_add", ob),
        {"version": _fresh(ob).version, "signature_name": "FORS2_img_acq"},
    )
    # then
    html = response.content.decode()
    block = html[html.index('data-field="signature_name"') :].split("</div>")[0]
    assert "The OB has an acquisition template (FORS2_img_acq): delete it first." in block
    assert _state(ob) == before


def _template_post(template: Template, version: int, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": version,
        "template_id": template.pk,
        "DET.DIT": "3600",
        "SEQ.NEXPO": "1",
        "INS.FILT": "",
        "SEQ.OFFSETS": "0, 10",
    }
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def test_saving_a_templates_parameters(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    # when
    response = _client(phase2.pi).post(
        _url("template_save", ob),
        _template_post(
            template,
            _fresh(ob).version,
            **{
                "DET.DIT": "1200",
                "SEQ.NEXPO": "3",
                "INS.FILT": "I_BESS",
                "SEQ.OFFSETS": "0, 15, -15",
                "DET.BINNING": "on",
            },
        ),
    )
    # then
    template.refresh_from_db()
    assert response.status_code == 302
    assert template.values == {
        "DET.DIT": 1200.0,
        "SEQ.NEXPO": 3,
        "INS.FILT": "I_BESS",
        "SEQ.OFFSETS": [0, 15, -15],
        "DET.BINNING": True,
    }
    assert _fresh(ob).execution_time_s == 360 + 60 + 3 * (1200 + 30)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"DET.DIT": "99999"}, "DET.DIT", "between 0.5 and 3600"),
        ({"SEQ.NEXPO": "2.5"}, "SEQ.NEXPO", "Enter a whole number."),
        ({"SEQ.OFFSETS": "0, ten"}, "SEQ.OFFSETS", "Give numbers separated by commas"),
        ({"INS.FILT": "U_HIGH"}, "INS.FILT", "Select a valid choice."),
    ],
)
def test_bad_template_values_show_field_messages_and_change_nothing(
    phase2: Phase2, values: dict[str, str], field: str, message: str
) -> None:
    # given
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("template_save", ob), _template_post(template, _fresh(ob).version, **values)
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    block = html[html.index(f'data-field="{field}"') :].split("</div>")[0]
    assert "errorlist" in block and message in block
    assert _state(ob) == before


def test_a_stale_template_form_changes_nothing(phase2: Phase2) -> None:
    # given: the page showed the OB, then its name changed (a new OB version)
    ob = _ob(phase2)
    template = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    shown = _fresh(ob).version
    services.ob_update(ob_id=ob.pk, data=OBData(name="Renamed"), actor=phase2.coi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("template_save", ob), _template_post(template, shown, **{"DET.DIT": "10"})
    )
    # then
    assert STALE in response.content.decode()
    assert _state(ob) == before


def test_moving_and_removing_templates(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    flat = services.template_add(ob_id=ob.pk, signature_name="FORS2_cal_flat", actor=phase2.pi)
    science = services.template_add(ob_id=ob.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    client = _client(phase2.pi)
    # when
    moved = client.post(
        _url("template_move", ob),
        {"version": _fresh(ob).version, "template_id": science.pk, "direction": "up"},
    )
    order = list(Template.objects.filter(ob=ob).values_list("pk", flat=True))
    removed = client.post(
        _url("template_delete", ob), {"version": _fresh(ob).version, "template_id": flat.pk}
    )
    # then
    assert moved.status_code == removed.status_code == 302
    assert order == [science.pk, flat.pk]
    assert list(Template.objects.filter(ob=ob).values_list("pk", flat=True)) == [science.pk]


def test_removing_a_template_of_another_ob_is_refused(phase2: Phase2) -> None:
    # given: two OBs at the same version, the other one with a template
    ob, other = _ob(phase2), _ob(phase2)
    theirs = services.template_add(ob_id=other.pk, signature_name="FORS2_img_obs", actor=phase2.pi)
    services.ob_update(ob_id=ob.pk, data=OBData(name="Same version"), actor=phase2.pi)
    assert _fresh(ob).version == _fresh(other).version
    before = _state(ob), _state(other)
    # when: this OB's page names the other OB's template
    response = _client(phase2.pi).post(
        _url("template_delete", ob), {"version": _fresh(ob).version, "template_id": theirs.pk}
    )
    # then
    assert response.status_code == 200
    assert "no longer exists" in response.content.decode()
    assert (_state(ob), _state(other)) == before


# -- windows -------------------------------------------------------------------------------------


def _windows_post(prefix: str, version: int, rows: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-v-version": version,
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": 0,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 50,
    }
    for i, (start, end) in enumerate(rows):
        data[f"{prefix}-{i}-start"] = start
        data[f"{prefix}-{i}-end"] = end
    return data


def test_saving_absolute_and_sidereal_windows(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    client = _client(phase2.pi)
    # when
    absolute = client.post(
        _url("absolute_windows", ob),
        _windows_post("abs", ob.version, [("2027-05-01T23:30", "2027-05-02T03:00"), ("", "")]),
    )
    sidereal = client.post(
        _url("sidereal_windows", ob),
        _windows_post("lst", _fresh(ob).version, [("22:00", "24:00"), ("00:00", "02:00")]),
    )
    page = client.get(_url("ob", ob)).content.decode()
    # then
    assert absolute.status_code == sidereal.status_code == 302
    assert [
        (w.start.isoformat(), w.end.isoformat()) for w in AbsoluteWindow.objects.filter(ob=ob)
    ] == [("2027-05-01T23:30:00+00:00", "2027-05-02T03:00:00+00:00")]
    assert list(SiderealWindow.objects.filter(ob=ob).values_list("start_min", "end_min")) == [
        (0, 120),
        (1320, 1440),
    ]
    assert 'value="2027-05-01T23:30"' in page and 'value="22:00"' in page


def test_removing_a_window_with_its_checkbox(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    ob_parts.sidereal_windows_set(ob_id=ob.pk, windows=[("01:00", "03:00")], actor=phase2.pi)
    data = _windows_post("lst", _fresh(ob).version, [("01:00", "03:00")])
    data["lst-0-DELETE"] = "on"
    # when
    response = _client(phase2.pi).post(_url("sidereal_windows", ob), data)
    # then
    assert response.status_code == 302
    assert not SiderealWindow.objects.filter(ob=ob).exists()


@pytest.mark.parametrize(
    ("prefix", "rows", "message"),
    [
        ("abs", [("2027-05-02T00:00", "2027-05-01T00:00")], "must be before"),
        (
            "abs",
            [("2027-05-01T00:00", "2027-05-03T00:00"), ("2027-05-02T00:00", "2027-05-04T00:00")],
            "Overlaps",
        ),
        ("abs", [("2027-05-01T00:00", "")], "Give both ends of the window, or neither."),
        ("lst", [("25:00", "26:00")], "is not a time of day"),
        ("lst", [("22:00", "02:00")], "must be before"),
    ],
)
def test_bad_windows_are_refused_next_to_their_row(
    phase2: Phase2, prefix: str, rows: list[tuple[str, str]], message: str
) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    name = "absolute_windows" if prefix == "abs" else "sidereal_windows"
    # when
    response = _client(phase2.pi).post(_url(name, ob), _windows_post(prefix, ob.version, rows))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    form = html[html.index(f'id="{"absolute" if prefix == "abs" else "sidereal"}-form"') :]
    assert message in form.split("</form>")[0]
    assert _state(ob) == before


def test_stale_windows_change_nothing(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    shown = ob.version
    services.ob_update(ob_id=ob.pk, data=OBData(name="Renamed"), actor=phase2.coi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("sidereal_windows", ob), _windows_post("lst", shown, [("01:00", "02:00")])
    )
    # then
    assert STALE in response.content.decode()
    assert _state(ob) == before


# -- finding charts ------------------------------------------------------------------------------


def test_uploading_listing_serving_and_removing_a_finding_chart(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    client = _client(phase2.pi)
    # when
    uploaded = client.post(
        _url("chart_add", ob),
        {"version": ob.version, "image": SimpleUploadedFile("ngc253.jpg", _jpeg(), "image/jpeg")},
    )
    chart = FindingChart.objects.get(ob=ob)
    page = client.get(_url("ob", ob)).content.decode()
    image_url = reverse("phase2:chart_image", kwargs={"ob_id": ob.pk, "chart_index": 1})
    full = client.get(image_url)
    thumb = _client(phase2.coi).get(image_url, {"thumb": "1"})
    outsider = _client(phase2.outsider).get(image_url)
    removed = client.post(
        _url("chart_remove", ob), {"version": _fresh(ob).version, "chart_id": chart.pk}
    )
    # then
    assert uploaded.status_code == 302
    assert f'src="{image_url}?thumb=1"' in page
    assert full.status_code == 200 and full["Content-Type"] == "image/jpeg"
    assert full.content == _jpeg()
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert max(small.size) <= 240
    assert outsider.status_code == 404
    assert removed.status_code == 302
    assert not FindingChart.objects.filter(ob=ob).exists()


def test_a_finding_chart_that_is_not_a_jpeg_is_refused(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(
        _url("chart_add", ob),
        {"version": ob.version, "image": SimpleUploadedFile("chart.jpg", _png(), "image/jpeg")},
    )
    # then
    html = response.content.decode()
    block = html[html.index('data-field="image"') :].split("</div>")[0]
    assert "is not a JPEG image: export the chart as JPEG." in block
    assert _state(ob) == before


# -- verify, submit, revise, sent back -----------------------------------------------------------


def test_verifying_an_incomplete_ob_lists_what_to_change(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    # when
    html = _client(phase2.pi).get(_url("ob_verify", ob)).content.decode()
    # then
    assert 'id="verification"' in html
    assert "Set the target&#x27;s RA and Dec (or copy a Phase 1 target)." in html
    assert "Add a science template." in html


def test_submitting_an_incomplete_ob_shows_the_list_and_keeps_it_partial(phase2: Phase2) -> None:
    # given
    ob = _ob(phase2)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(_url("ob_submit", ob), {"status-version": ob.version})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not submitted" in html
    assert "Add a science template." in html
    assert _state(ob) == before


def test_submitting_and_revising_an_ob(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    client = _client(phase2.pi)
    # when
    submitted = client.post(_url("ob_submit", ob), {"status-version": ob.version}, follow=True)
    status_after_submit = _fresh(ob).status
    revised = client.post(
        _url("ob_revise", ob), {"status-version": _fresh(ob).version}, follow=True
    )
    # then
    assert status_after_submit == OBStatus.DEFINED
    assert "OB submitted for review" in submitted.content.decode()
    assert _fresh(ob).status == OBStatus.PARTIAL
    assert "OB taken back for editing" in revised.content.decode()


def test_a_stale_submit_changes_nothing(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    shown = ob.version
    services.ob_update(ob_id=ob.pk, data=OBData(user_priority=2), actor=phase2.coi)
    before = _state(ob)
    # when
    response = _client(phase2.pi).post(_url("ob_submit", ob), {"status-version": shown})
    # then
    assert STALE in response.content.decode()
    assert _state(ob) == before


def test_the_last_send_back_message_is_shown_on_the_ob(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    services.ob_send_back(ob_id=ob.pk, message="Add a finding chart.", actor=phase2.staff)
    # when
    html = _client(phase2.coi).get(_url("ob", ob)).content.decode()
    # then
    notice = html[html.index('id="ob-sendback"') :].split("</div>")[0]
    assert "Add a finding chart." in notice
    assert 'id="ob-submit"' in html and 'id="ob-save"' in html  # editable again


def test_a_visitor_mode_ob_stays_editable_after_submission(phase2: Phase2) -> None:
    # given
    ob = _complete(phase2, _ob(phase2, run="vm"))
    services.ob_submit(ob_id=ob.pk, actor=phase2.pi)
    # when
    response = _client(phase2.pi).post(_url("ob", ob), _ob_post(ob, user_comments="Slit PA 45"))
    # then
    assert response.status_code == 302
    assert _fresh(ob).user_comments == "Slit PA 45"
