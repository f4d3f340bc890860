"""Execution time of an OB: exposures plus overheads. Pure Python, no Django.

The model, per OB (all seconds, from the instrument's :class:`Overheads`)::

    execution = preset                                 telescope preset, once
              + acquisition  x  acquisition templates
              + template     x  other templates         instrument setup of each
              + readout      x  exposures               one per file read out
              + exposure time of science and calibration templates

A template's exposure definition (``TemplateSignature.exposure``) names its parameters::

    {"time": "DET.DIT", "coadds": ["DET.NDIT"], "count": ["SEQ.NOFF", "SEQ.NEXPO"]}

one exposure lasts ``time x product(coadds)`` (``coadds``, optional: infrared sub-integrations
averaged into one file, read out together), and the template takes ``product(count)``
exposures. A count parameter holding a list counts its elements (e.g. retarder angles). An
empty OB takes no time. Values that are missing or not numbers count as 0 (the OB is then
incomplete and verification says so); an acquisition's exposures are part of its overhead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ACQUISITION = "acquisition"


class OverheadsLike(Protocol):
    """Anything with the four overheads in seconds, e.g. an ``OverheadModel`` row."""

    @property
    def preset_s(self) -> float: ...
    @property
    def acquisition_s(self) -> float: ...
    @property
    def template_s(self) -> float: ...
    @property
    def readout_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Overheads:
    preset_s: float
    acquisition_s: float
    template_s: float
    readout_s: float


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the breakdown a page shows; ``template`` is the 1-based position or 0."""

    kind: str  # preset | acquisition | setup | readout | exposure
    label: str
    seconds: float
    template: int = 0


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The lines in OB order and the totals, s; execution = exposure + overhead."""

    lines: tuple[Line, ...]
    exposure_s: float
    overhead_s: float
    execution_s: float
    n_exposures: int


#: (template type, exposure definition, values) per template, in the OB's order.
TemplateInput = tuple[str, Mapping[str, Any], Mapping[str, Any]]

EMPTY = Breakdown(lines=(), exposure_s=0.0, overhead_s=0.0, execution_s=0.0, n_exposures=0)


def execution_time(
    overheads: OverheadsLike, templates: Sequence[TemplateInput], names: Sequence[str] = ()
) -> Breakdown:
    """Exposure and execution time of an OB.

    Parameters
    ----------
    overheads : OverheadsLike
        The instrument package's overheads, s.
    templates : sequence of (type, exposure definition, values)
        The OB's templates in order; ``values`` should already hold the defaults
        (``observations.parameters.effective``).
    names : sequence of str, optional
        Template names for the lines' labels, same order as ``templates``.

    Returns
    -------
    Breakdown
        The lines and totals, s.
    """
    if not templates:
        return EMPTY
    lines = [Line("preset", "Telescope preset", float(overheads.preset_s))]
    overhead_s = float(overheads.preset_s)
    exposure_s = 0.0
    n_exposures = 0
    for i, (kind, exposure, values) in enumerate(templates, start=1):
        name = names[i - 1] if i <= len(names) else f"Template {i}"
        if kind == ACQUISITION:
            lines.append(Line("acquisition", f"{name}: acquisition", overheads.acquisition_s, i))
            overhead_s += overheads.acquisition_s
            continue
        lines.append(Line("setup", f"{name}: instrument setup", overheads.template_s, i))
        overhead_s += overheads.template_s
        if not exposure:
            continue
        each = _number(values.get(exposure.get("time", "")))
        for coadd in exposure.get("coadds", ()):
            each *= _count(values.get(coadd))
        count = 1
        for key in exposure.get("count", ()):
            count *= _count(values.get(key))
        if count == 0:
            continue
        readout = count * overheads.readout_s
        lines.append(Line("exposure", f"{name}: {count} x {each:g} s exposure", count * each, i))
        lines.append(
            Line("readout", f"{name}: {count} x {overheads.readout_s:g} s readout", readout, i)
        )
        exposure_s += count * each
        overhead_s += readout
        n_exposures += count
    return Breakdown(
        lines=tuple(lines),
        exposure_s=exposure_s,
        overhead_s=overhead_s,
        execution_s=exposure_s + overhead_s,
        n_exposures=n_exposures,
    )


def exposure_errors(
    definitions: Iterable[Mapping[str, Any]], exposure: Mapping[str, Any]
) -> list[str]:
    """What is wrong with an exposure definition against its template's parameters."""
    kinds = {d["name"]: d.get("type") for d in definitions}
    errors = [f"unknown key {key!r}" for key in exposure if key not in ("time", "coadds", "count")]
    if not exposure:
        return errors
    time = exposure.get("time")
    if kinds.get(time) not in ("number", "integer"):
        errors.append(f"time {time!r} must name a number parameter")
    for key in ("coadds", "count"):
        names = exposure.get(key, [])
        if not isinstance(names, list):
            errors.append(f"{key} must be a list of parameter names")
            continue
        for name in names:
            if kinds.get(name) not in ("integer", "list"):
                errors.append(f"{key} {name!r} must name an integer or list parameter")
    return errors


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0.0
    return max(float(value), 0.0)


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    return int(_number(value))
