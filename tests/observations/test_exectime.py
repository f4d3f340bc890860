"""Execution time of an OB (observations.exectime): exposures plus preset, acquisition,
template setup and readout overheads, as lines a page shows and totals. No database."""

from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as sts

from observations.exectime import Overheads, TemplateInput, execution_time, exposure_errors

OVERHEADS = Overheads(preset_s=360.0, acquisition_s=300.0, template_s=60.0, readout_s=40.0)
ACQ: TemplateInput = ("acquisition", {}, {"DET.WIN1.UIT1": 10.0})
OFFSET_EXPOSURE = {"time": "DET.DIT", "count": ["SEQ.NOFF"]}
JITTER_EXPOSURE = {"time": "DET.DIT", "coadds": ["DET.NDIT"], "count": ["SEQ.NJITT"]}


def science(**values: Any) -> TemplateInput:
    return ("science", OFFSET_EXPOSURE, values)


def test_an_empty_ob_takes_no_time() -> None:
    breakdown = execution_time(OVERHEADS, [])
    assert (breakdown.execution_s, breakdown.lines) == (0.0, ())


def test_execution_time_is_exposures_plus_preset_acquisition_setup_and_readouts() -> None:
    # given an acquisition, 5 x 60 s offsets and a calibration of 3 x 20 s
    templates = [
        ACQ,
        science(**{"DET.DIT": 60.0, "SEQ.NOFF": 5}),
        ("calibration", {"time": "T", "count": ["N"]}, {"T": 20.0, "N": 3}),
    ]
    # when
    breakdown = execution_time(OVERHEADS, templates, ["FORS2_img_acq", "FORS2_img_obs_offset"])
    # then
    assert breakdown.exposure_s == 5 * 60 + 3 * 20
    assert breakdown.overhead_s == 360 + 300 + 2 * 60 + (5 + 3) * 40
    assert breakdown.execution_s == breakdown.exposure_s + breakdown.overhead_s == 1460.0
    assert breakdown.n_exposures == 8
    assert [(line.kind, line.template, line.seconds) for line in breakdown.lines] == [
        ("preset", 0, 360.0),
        ("acquisition", 1, 300.0),
        ("setup", 2, 60.0),
        ("exposure", 2, 300.0),
        ("readout", 2, 200.0),
        ("setup", 3, 60.0),
        ("exposure", 3, 60.0),
        ("readout", 3, 120.0),
    ]
    labels = [line.label for line in breakdown.lines]
    assert labels[1] == "FORS2_img_acq: acquisition"
    assert labels[3] == "FORS2_img_obs_offset: 5 x 60 s exposure"
    assert labels[6] == "Template 3: 3 x 20 s exposure"  # no name given


def test_coadds_lengthen_an_exposure_without_more_readouts() -> None:
    # given 10 jitter positions of NDIT 6 x DIT 10 s (infrared)
    template = ("science", JITTER_EXPOSURE, {"DET.DIT": 10.0, "DET.NDIT": 6, "SEQ.NJITT": 10})
    # when
    breakdown = execution_time(OVERHEADS, [template])
    # then
    assert breakdown.exposure_s == 600.0
    assert breakdown.n_exposures == 10
    assert breakdown.overhead_s == 360 + 60 + 10 * 40


def test_a_list_count_counts_its_elements() -> None:
    # given polarimetry at four retarder angles, two cycles
    exposure = {"time": "DIT", "count": ["NEXPO", "POSANG"]}
    template = ("science", exposure, {"DIT": 100.0, "NEXPO": 2, "POSANG": [0, 22.5, 45, 67.5]})
    # when
    breakdown = execution_time(OVERHEADS, [template])
    # then
    assert (breakdown.n_exposures, breakdown.exposure_s) == (8, 800.0)


def test_no_count_means_one_exposure() -> None:
    breakdown = execution_time(OVERHEADS, [("science", {"time": "T", "count": []}, {"T": 1800})])
    assert (breakdown.n_exposures, breakdown.exposure_s) == (1, 1800.0)


def test_an_acquisition_s_exposures_are_part_of_its_overhead() -> None:
    # given an acquisition template whose signature has an exposure definition
    acq = ("acquisition", {"time": "DIT", "count": []}, {"DIT": 30.0})
    # when
    breakdown = execution_time(OVERHEADS, [acq])
    # then
    assert breakdown.exposure_s == 0.0
    assert breakdown.execution_s == 360 + 300


def test_a_template_without_exposures_costs_its_setup_only() -> None:
    breakdown = execution_time(OVERHEADS, [("calibration", {}, {"SEQ.NEXPO": 5})])
    assert breakdown.execution_s == 360 + 60
    assert breakdown.n_exposures == 0


def test_missing_or_invalid_values_count_as_nothing() -> None:
    # given an incomplete template: no DIT, a string count, a negative one
    templates = [
        science(**{"SEQ.NOFF": 4}),
        science(**{"DET.DIT": 60.0, "SEQ.NOFF": "4"}),
        science(**{"DET.DIT": True, "SEQ.NOFF": 2}),
        science(**{"DET.DIT": 60.0, "SEQ.NOFF": -3}),
    ]
    # when
    breakdown = execution_time(OVERHEADS, templates)
    # then no exposure time; only the first and third read out
    assert breakdown.exposure_s == 0.0
    assert breakdown.n_exposures == 4 + 2


def test_an_overhead_model_row_serves_as_the_overheads() -> None:
    # given an object shaped like OverheadModel
    row = SimpleNamespace(preset_s=120.0, acquisition_s=120.0, template_s=30.0, readout_s=10.0)
    # when
    breakdown = execution_time(row, [science(**{"DET.DIT": 10.0, "SEQ.NOFF": 1})])
    # then
    assert breakdown.execution_s == 120 + 30 + 10 + 10


kinds = sts.sampled_from(["acquisition", "science", "calibration"])
template_inputs = sts.tuples(
    kinds,
    sts.just(JITTER_EXPOSURE),
    sts.fixed_dictionaries(
        {
            "DET.DIT": sts.floats(0, 3600),
            "DET.NDIT": sts.integers(0, 20),
            "SEQ.NJITT": sts.integers(0, 30),
        }
    ),
)


@given(templates=sts.lists(template_inputs, max_size=20))
def test_the_lines_add_up_to_the_totals(templates: list[TemplateInput]) -> None:
    # when
    breakdown = execution_time(OVERHEADS, templates)
    # then
    total = sum(line.seconds for line in breakdown.lines)
    exposures = sum(line.seconds for line in breakdown.lines if line.kind == "exposure")
    assert abs(total - breakdown.execution_s) <= 1e-6 * max(total, 1)
    assert abs(exposures - breakdown.exposure_s) <= 1e-6 * max(exposures, 1)
    assert breakdown.execution_s >= breakdown.exposure_s >= 0


def test_exposure_definitions_must_name_parameters_of_the_right_type() -> None:
    # given a signature's definitions
    definitions = [
        {"name": "DIT", "type": "number"},
        {"name": "NDIT", "type": "integer"},
        {"name": "ANGLES", "type": "list"},
        {"name": "FILTER", "type": "string"},
    ]
    # when / then
    assert exposure_errors(definitions, {}) == []
    assert exposure_errors(definitions, {"time": "DIT", "coadds": ["NDIT"], "count": []}) == []
    assert exposure_errors(definitions, {"time": "DIT", "count": ["NDIT", "ANGLES"]}) == []
    assert exposure_errors(definitions, {"time": "FILTER", "count": ["DIT", "MISSING"]}) == [
        "time 'FILTER' must name a number parameter",
        "count 'DIT' must name an integer or list parameter",
        "count 'MISSING' must name an integer or list parameter",
    ]
    assert exposure_errors(definitions, {"time": "DIT", "counts": []}) == ["unknown key 'counts'"]
