"""Instruments as data: observations/fixtures/instruments.json loads over the observatory
fixture, and every template signature and overhead model in it is usable as it stands."""

import pytest
from django.core.management import call_command
from django.db.models import Q

from dataflow.observatory.models import Instrument
from observations.exectime import execution_time, exposure_errors
from observations.models import OverheadModel, TemplateSignature, TemplateType
from observations.parameters import defaults, definition_errors, effective, validate


@pytest.fixture
def instruments(db: None) -> None:
    # as seed_demo and the API's test world load them
    call_command("loaddata", "paranal", "instruments", verbosity=0)


@pytest.mark.usefixtures("instruments")
def test_every_offered_instrument_has_an_acquisition_and_a_science_template() -> None:
    # given the observatory's instruments offered in some mode
    offered = Instrument.objects.filter(Q(offered_sm=True) | Q(offered_vm=True))
    assert offered.count() == 10
    for instrument in offered:
        # when
        types = set(
            TemplateSignature.objects.filter(instrument=instrument).values_list("type", flat=True)
        )
        # then
        assert {TemplateType.ACQUISITION, TemplateType.SCIENCE} <= types, instrument.name


@pytest.mark.usefixtures("instruments")
def test_every_signature_s_defaults_are_valid_for_its_own_definitions() -> None:
    for signature in TemplateSignature.objects.all():
        assert definition_errors(signature.parameters) == [], signature.name
        # a new template passes its parameter checks as it is created
        assert validate(signature.parameters, defaults(signature.parameters)) == {}, signature.name
        assert all(d.get("label") for d in signature.parameters), signature.name


@pytest.mark.usefixtures("instruments")
def test_exposure_definitions_name_existing_parameters() -> None:
    for signature in TemplateSignature.objects.all():
        assert exposure_errors(signature.parameters, signature.exposure) == [], signature.name
        if signature.type == TemplateType.SCIENCE:
            assert signature.exposure, f"{signature.name}: a science template exposes"


@pytest.mark.usefixtures("instruments")
def test_every_instrument_package_has_its_overhead_model() -> None:
    # given each (instrument, ip_version) that has signatures
    packages = set(TemplateSignature.objects.values_list("instrument_id", "ip_version"))
    # then
    models = set(OverheadModel.objects.values_list("instrument_id", "ip_version"))
    assert packages == models


@pytest.mark.usefixtures("instruments")
def test_overheads_are_realistic() -> None:
    for model in OverheadModel.objects.all():
        assert 60 <= model.preset_s <= 600
        assert 60 <= model.acquisition_s <= 900
        assert 10 <= model.template_s <= 180
        assert 5 <= model.readout_s <= 60


@pytest.mark.usefixtures("instruments")
def test_a_default_fors2_imaging_ob_has_a_realistic_execution_time() -> None:
    # given FORS2's imaging acquisition and offset template, with their defaults
    fors2 = Instrument.objects.get(name="FORS2")
    overheads = OverheadModel.objects.get(instrument=fors2)
    acq = TemplateSignature.objects.get(instrument=fors2, name="FORS2_img_acq")
    obs = TemplateSignature.objects.get(instrument=fors2, name="FORS2_img_obs_offset")
    # when
    breakdown = execution_time(
        overheads,
        [(s.type, s.exposure, effective(s.parameters, {})) for s in (acq, obs)],
    )
    # then 5 x 60 s, plus preset, acquisition, setup and 5 readouts
    assert breakdown.exposure_s == 300
    assert breakdown.execution_s == 300 + 360 + 300 + 60 + 5 * 40


@pytest.mark.usefixtures("instruments")
def test_loading_the_fixture_again_changes_nothing() -> None:
    # given the loaded fixture
    before = TemplateSignature.objects.count(), OverheadModel.objects.count()
    # when
    call_command("loaddata", "instruments", verbosity=0)
    # then
    assert (TemplateSignature.objects.count(), OverheadModel.objects.count()) == before
