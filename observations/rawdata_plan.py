"""Raw frames of an execution and of a night's calibrations, planned and built. No Django.

From plain inputs (instrument, telescope, site, target, programme and OB, the templates with
the exposure time of each of their exposures, the start time) :func:`plan_execution` lays out
one :class:`Frame` per exposure on the execution's timeline and :func:`build_hdul` turns a
frame into an astropy ``HDUList``: a small synthetic image and the header an archive needs.
:func:`plan_calibrations` does the same for the morning's bias and flat frames of an
instrument. Nothing here reads settings, the clock or a database; the images are
deterministic from a seed per frame.

Timeline (seconds, the overheads of ``observations.exectime``)::

    start + preset | acquisition: 1 frame, then max(acquisition, its exposure + readout)
                   | other template: + setup, then per exposure: frame, + exposure + readout

so an execution's frames end where the execution time says, and ``DATE-OBS`` increases.

Naming and keywords (what the archive reads, ``shared/ARCHIVE-VO.md``):

- ``INSTRUME`` is the instrument's name in capitals without other characters than A-Z and 0-9
  (``HAWK-I`` becomes ``HAWKI``, as in ESO's files; :func:`archive_instrument_name`).
- ``ARCFILE`` = ``<INSTRUME>.<DATE-OBS>.fits`` with ``DATE-OBS`` to the millisecond; within a
  plan the instants are made strictly increasing by whole milliseconds, so two frames never
  share a name (frames of one instrument can only collide across plans if two executions
  overlap in time, which one running visit per telescope rules out).
- ``TELESCOP`` is our telescope's name as stored (``UT1``), so the archive maps it back one
  to one; ``ORIGIN`` is ``ESO-<SITE>`` from the site's name (``ESO-PARANAL``).
- ``HIERARCH ESO OBS PROG ID`` holds the run id (``130.C-0001(A)``) as at ESO (its programme is
  the part before the parenthesis); ``ESO OBS ID``/``OBS NAME`` the OB; ``ESO OBS START`` the
  execution's start (with the OB id it identifies the execution); ``ESO TPL ID/NO/EXPNO/NEXP``
  the template; ``ESO DPR CATG/TYPE/TECH`` the category (``SCIENCE``, ``ACQUISITION``,
  ``CALIB``), type and technique; ``ESO TEL AIRM START/END`` from ``dataflow.astro``;
  ``ESO TEL AMBI FWHM START`` the seeing at the start, arcsec. Unknown numbers (no seeing
  recorded, target below the horizon) are -1.
- ``RA``/``DEC`` (degrees, ICRS, proper motion applied to the start), ``EQUINOX`` 2000,
  ``RADESYS`` ICRS, and on science and acquisition frames a tangent-plane WCS with the target
  at the reference pixel (the centre). Night calibrations have no position.
- ``CHECKSUM``/``DATASUM`` are added when the file is written (``writeto(checksum=True)``).
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time
from numpy.typing import NDArray

from dataflow.astro.geometry import airmass, apply_proper_motion, target_altaz
from dataflow.astro.nights import night_boundaries
from dataflow.astro.site import Site
from dataflow.astro.sky import sky_samples
from observations.exectime import Overheads, execution_time

ACQUISITION = "acquisition"
SCIENCE = "science"
CALIBRATION = "calibration"

#: Synthetic image size, pixels (NAXIS1 = NAXIS2).
IMAGE_SIZE = 64
#: Pixel scales of the demo instruments' detectors, arcsec; others get ``DEFAULT_PIXEL_SCALE``.
PIXEL_SCALE_ARCSEC = {
    "FORS2": 0.25,
    "KMOS": 0.2,
    "UVES": 0.18,
    "FLAMES": 0.3,
    "SPHERE": 0.01225,
    "VISIR": 0.045,
    "MUSE": 0.2,
    "HAWKI": 0.106,
    "VIRCAM": 0.339,
    "4MOST": 0.2,
}
DEFAULT_PIXEL_SCALE = 0.25
#: Unknown numeric values (seeing not recorded, airmass below the horizon).
UNKNOWN = -1.0
#: Night calibrations: frames of each kind, the flats' exposure, and their start after sunrise.
N_BIAS = 5
N_FLAT = 5
FLAT_EXPTIME_S = 10.0
CALIBRATIONS_AFTER_SUNRISE = datetime.timedelta(minutes=30)

ARCFILE_PATTERN = re.compile(r"^[A-Z0-9]+\.\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\.fits$")

_UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_JD_UNIX_EPOCH = 2440587.5
_JD_J2000 = 2451545.0
_MAS_PER_ARCSEC = 1000.0
_DEG_PER_ARCSEC = 1.0 / 3600.0
_GAUSS_SIGMA_PER_FWHM = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

CardValue = str | int | float | bool
Card = tuple[str, CardValue, str]


@dataclass(frozen=True, slots=True)
class Target:
    """The OB's target: ICRS coordinates at ``epoch_jyear``, degrees; proper motion arcsec/yr
    (RA including cos Dec, p2's units)."""

    name: str
    ra_deg: float
    dec_deg: float
    equinox: float = 2000.0
    pm_ra_arcsec_yr: float = 0.0
    pm_dec_arcsec_yr: float = 0.0
    epoch_jyear: float = 2000.0


@dataclass(frozen=True, slots=True)
class TemplateRun:
    """One template as executed: its id (the signature's name), category (``acquisition``,
    ``science``, ``calibration``), DPR type and technique, and each exposure's time, s."""

    tpl_id: str
    category: str
    dpr_type: str
    technique: str
    exposures_s: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ExecutionInput:
    """Everything an execution's frames are made from.

    Attributes
    ----------
    instrument : str
        ``INSTRUME`` (see :func:`archive_instrument_name`).
    telescope : str
        ``TELESCOP``.
    site : Site
        Where the telescope is (airmass, ``ORIGIN``, ``TEL GEO*``).
    target : Target
    programme_id, run_id : str
        ``130.C-0001`` and ``130.C-0001(A)``.
    ob_id : int
    ob_name : str
    templates : sequence of TemplateRun
        In the OB's order.
    start : datetime.datetime
        The execution's start, timezone-aware (rounded to the millisecond).
    overheads : Overheads
        The instrument's overheads, s.
    seeing_arcsec : float or None
        Seeing at the start; ``None`` if not recorded.
    pixel_scale_arcsec : float
        Detector pixel scale for the WCS and the star's width.
    seed : int
        Images are drawn from ``(seed, frame index)``.
    """

    instrument: str
    telescope: str
    site: Site
    target: Target
    programme_id: str
    run_id: str
    ob_id: int
    ob_name: str
    templates: tuple[TemplateRun, ...]
    start: datetime.datetime
    overheads: Overheads
    seeing_arcsec: float | None
    pixel_scale_arcsec: float
    seed: int


@dataclass(frozen=True, slots=True)
class CalibrationInput:
    """A night's calibrations of one instrument: ``N_BIAS`` biases then ``N_FLAT`` lamp flats
    from ``start`` (see :func:`calibration_start`), each followed by ``readout_s``."""

    instrument: str
    telescope: str
    site: Site
    technique: str
    start: datetime.datetime
    readout_s: float
    seed: tuple[int, ...]
    n_bias: int = N_BIAS
    n_flat: int = N_FLAT
    flat_exptime_s: float = FLAT_EXPTIME_S


@dataclass(frozen=True, slots=True)
class Image:
    """What a frame's synthetic data holds: ``kind`` is ``bias``, ``flat`` or ``sky`` (sky,
    with a Gaussian star of FWHM ``fwhm_px`` at the centre when ``star``)."""

    kind: str
    seed: tuple[int, ...]
    exptime_s: float
    star: bool = False
    fwhm_px: float = 4.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One file: its name, primary-header cards in order, and its image."""

    arcfile: str
    cards: tuple[Card, ...]
    image: Image

    def value(self, keyword: str) -> CardValue | None:
        """The value of a card, ``None`` if the frame has no such card."""
        for key, value, _ in self.cards:
            if key == keyword:
                return value
        return None


# --- names and classifications -------------------------------------------------------------


def archive_instrument_name(name: str) -> str:
    """``INSTRUME`` of an instrument: upper case, letters and digits only (``HAWK-I`` →
    ``HAWKI``), so that ``ARCFILE`` is ``[A-Z0-9]+.<DATE-OBS>.fits``."""
    result = re.sub(r"[^A-Z0-9]", "", _ascii(name).upper())
    if not result:
        raise ValueError(f"instrument name {name!r} has no letter or digit")
    return result


_TECHNIQUE_TOKENS = (
    ({"pol", "ipol", "zimpol"}, "POLARIMETRY"),
    ({"ifu", "ifs", "wfm", "nfm", "kmos", "muse"}, "IFU"),
    ({"spec", "lss", "mos", "mxu", "gir", "comb", "slit", "echelle", "fibre"}, "SPECTRUM"),
    ({"img", "imaging", "irdis", "paw", "tile6"}, "IMAGE"),
)


def technique_for(template_name: str, observing_modes: Sequence[str]) -> str:
    """``DPR TECH`` of a template: from its name's tokens (``FORS2_lss_obs`` → ``SPECTRUM``,
    ``FORS2_img_obs_offset`` → ``IMAGE``), else from the instrument's first observing mode
    (``imaging`` → ``IMAGE``), else ``SPECTRUM``."""
    for words in (_tokens(template_name), *(_tokens(mode) for mode in observing_modes[:1])):
        for vocabulary, technique in _TECHNIQUE_TOKENS:
            if words & vocabulary:
                return technique
    return "SPECTRUM"


_CALIBRATION_TYPES = (
    ({"flat", "flatatt", "nightflat", "fibreflat", "illum"}, "FLAT"),
    ({"arc", "arcs", "wave"}, "WAVE"),
    ({"dark", "darks"}, "DARK"),
    ({"bias"}, "BIAS"),
    ({"std", "stdstar", "flux"}, "STD"),
)


def dpr_type_for(template_name: str, category: str) -> str:
    """``DPR TYPE``: ``OBJECT`` for acquisition and science templates; for a calibration
    template, from its name (flat, arc, dark, bias, standard star), else ``OBJECT``."""
    if category != CALIBRATION:
        return "OBJECT"
    words = _tokens(template_name)
    for vocabulary, kind in _CALIBRATION_TYPES:
        if words & vocabulary:
            return kind
    return "OBJECT"


#: Parameters read as an acquisition's exposure time when its signature names none (the
#: acquisition templates of the demo instruments define no ``exposure``), in this order.
ACQUISITION_TIME_PARAMETERS = ("DET.WIN1.UIT1", "DET.DIT", "DET.SEQ1.DIT", "DET.DIT1", "SEQ.TIME")
#: An acquisition's exposure time when none of those parameters holds a number, s.
DEFAULT_ACQUISITION_S = 1.0
_NO_OVERHEADS = Overheads(0.0, 0.0, 0.0, 0.0)


def template_exposures(
    category: str, exposure: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[float, ...]:
    """Each exposure's time of a template, s, counted as ``observations.exectime`` counts them.

    An acquisition takes one exposure (its time from ``exposure["time"]``, else from the first
    of ``ACQUISITION_TIME_PARAMETERS`` holding a number, else ``DEFAULT_ACQUISITION_S``); a
    science or calibration template takes ``product(count)`` exposures of ``time x
    product(coadds)`` (none without an exposure definition). ``values`` hold the defaults.
    """
    if category == ACQUISITION:
        names = [exposure["time"]] if exposure.get("time") else []
        for name in [*names, *ACQUISITION_TIME_PARAMETERS]:
            value = values.get(name)
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and 0 < value < math.inf
            ):
                return (float(value),)
        return (DEFAULT_ACQUISITION_S,)
    breakdown = execution_time(_NO_OVERHEADS, [(category, exposure, values)])
    if breakdown.n_exposures == 0:
        return ()
    each = round(breakdown.exposure_s / breakdown.n_exposures, 6)
    return (each,) * breakdown.n_exposures


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if t}


def _ascii(text: str) -> str:
    """FITS strings are printable ASCII: accents dropped, anything else replaced by '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else "?" for c in plain)


def equinox_years(equinox: str) -> float:
    """``EQUINOX`` from p2's text (``J2000`` → 2000.0); 2000.0 if it is not a year."""
    try:
        return float(equinox.strip().lstrip("JjBb"))
    except ValueError:
        return 2000.0


# --- time --------------------------------------------------------------------------------


def _ms(instant: datetime.datetime) -> int:
    """Milliseconds since 1970 (UTC, no leap seconds, like ``datetime``), rounded."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no defined UTC instant")
    delta = instant - _UNIX_EPOCH
    return (delta.days * 86_400_000) + round((delta.seconds * 1_000_000 + delta.microseconds) / 1e3)


def _iso(ms: int) -> str:
    """``YYYY-MM-DDThh:mm:ss.sss`` (UTC) of milliseconds since 1970."""
    instant = _UNIX_EPOCH + datetime.timedelta(milliseconds=ms)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"


def _strictly_increasing(instants: list[int]) -> list[int]:
    """Each instant at least 1 ms after the previous one, so names stay unique."""
    result: list[int] = []
    for t in instants:
        result.append(t if not result or t > result[-1] else result[-1] + 1)
    return result


def calibration_start(site: Site, night: datetime.date) -> datetime.datetime:
    """When a night's calibrations start: ``CALIBRATIONS_AFTER_SUNRISE`` after the sunrise
    that ends the night of ``night`` (local evening date), UTC, to the millisecond."""
    sunrise = night_boundaries(site, night).sunrise
    instant = sunrise.to_datetime(timezone=datetime.UTC) + CALIBRATIONS_AFTER_SUNRISE
    return _UNIX_EPOCH + datetime.timedelta(milliseconds=_ms(instant))


# --- planning ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    template: TemplateRun
    tpl_no: int
    exp_no: int
    exptime_s: float
    start_ms: int


def _timeline(ex: ExecutionInput) -> list[_Slot]:
    oh = ex.overheads
    t = _ms(ex.start) + round(oh.preset_s * 1000)
    slots: list[_Slot] = []
    for tpl_no, template in enumerate(ex.templates, start=1):
        if template.category == ACQUISITION:
            began = t
            for exp_no, exptime in enumerate(template.exposures_s, start=1):
                slots.append(_Slot(template, tpl_no, exp_no, exptime, t))
                t += round((exptime + oh.readout_s) * 1000)
            t = max(t, began + round(oh.acquisition_s * 1000))
            continue
        t += round(oh.template_s * 1000)
        for exp_no, exptime in enumerate(template.exposures_s, start=1):
            slots.append(_Slot(template, tpl_no, exp_no, exptime, t))
            t += round((exptime + oh.readout_s) * 1000)
    return slots


def _airmasses(site: Site, ra_deg: float, dec_deg: float, isots: list[str]) -> list[float]:
    """Airmass (Kasten & Young, geometric altitude) at each instant; ``UNKNOWN`` below the
    horizon."""
    if not isots:
        return []
    sky = sky_samples(site, Time(isots, format="isot", scale="utc"))
    alt, _ = target_altaz(site, sky, ra_deg, dec_deg)
    values: NDArray[np.float64] = np.asarray(airmass(alt[0]), dtype=np.float64)
    return [round(float(x), 4) if math.isfinite(x) else UNKNOWN for x in values]


def _position(target: Target, start: datetime.datetime) -> tuple[float, float]:
    """ICRS position at ``start`` (proper motion applied), degrees."""
    if target.pm_ra_arcsec_yr == 0.0 and target.pm_dec_arcsec_yr == 0.0:
        return target.ra_deg, target.dec_deg
    jd = _ms(start) / 86_400_000 + _JD_UNIX_EPOCH
    ra, dec = apply_proper_motion(
        target.ra_deg,
        target.dec_deg,
        target.pm_ra_arcsec_yr * _MAS_PER_ARCSEC,
        target.pm_dec_arcsec_yr * _MAS_PER_ARCSEC,
        target.epoch_jyear,
        2000.0 + (jd - _JD_J2000) / 365.25,
    )
    return float(ra), float(dec)


def _common_cards(instrument: str, telescope: str, site: Site, end_ms: int) -> list[Card]:
    return [
        ("ORIGIN", f"ESO-{archive_instrument_name(site.name)}", "Observatory"),
        ("DATE", _iso(end_ms), "Date the file was written"),
        ("TELESCOP", _ascii(telescope), "Telescope"),
        ("INSTRUME", instrument, "Instrument"),
    ]


def _time_cards(start_ms: int, mjd: float, exptime_s: float) -> list[Card]:
    return [
        ("EXPTIME", float(exptime_s), "Exposure time (s)"),
        ("MJD-OBS", mjd, "Start of the exposure (MJD, UTC)"),
        ("DATE-OBS", _iso(start_ms), "Start of the exposure (UTC)"),
    ]


def _wcs_cards(ra_deg: float, dec_deg: float, scale_arcsec: float) -> list[Card]:
    centre = (IMAGE_SIZE + 1) / 2.0  # FITS pixels count from 1: the centre of 64 is 32.5
    step = scale_arcsec * _DEG_PER_ARCSEC
    return [
        ("CTYPE1", "RA---TAN", "Gnomonic projection"),
        ("CTYPE2", "DEC--TAN", "Gnomonic projection"),
        ("CRPIX1", centre, "Reference pixel: the target"),
        ("CRPIX2", centre, "Reference pixel: the target"),
        ("CRVAL1", ra_deg, "RA at the reference pixel (deg)"),
        ("CRVAL2", dec_deg, "Dec at the reference pixel (deg)"),
        ("CDELT1", -step, "Pixel scale (deg), east to the left"),
        ("CDELT2", step, "Pixel scale (deg)"),
        ("CUNIT1", "deg", ""),
        ("CUNIT2", "deg", ""),
    ]


def plan_execution(ex: ExecutionInput) -> tuple[Frame, ...]:
    """The frames of an execution, one per exposure of its templates, in time order.

    Parameters
    ----------
    ex : ExecutionInput

    Returns
    -------
    tuple of Frame
        ``DATE-OBS`` strictly increasing by at least 1 ms; names unique.
    """
    slots = _timeline(ex)
    starts = _strictly_increasing([s.start_ms for s in slots])
    ends = [t + round(s.exptime_s * 1000) for t, s in zip(starts, slots, strict=True)]
    ra, dec = _position(ex.target, ex.start)
    isots = [_iso(t) for t in starts]
    mjds = [float(m) for m in np.atleast_1d(Time(isots, format="isot", scale="utc").mjd)]
    air_start = _airmasses(ex.site, ra, dec, isots)
    air_end = _airmasses(ex.site, ra, dec, [_iso(t) for t in ends])
    seeing = UNKNOWN if ex.seeing_arcsec is None else round(float(ex.seeing_arcsec), 3)
    fwhm_px = (ex.seeing_arcsec or 1.0) / ex.pixel_scale_arcsec
    ob_start = _iso(_ms(ex.start))
    frames = []
    for i, slot in enumerate(slots):
        tpl = slot.template
        arcfile = f"{ex.instrument}.{isots[i]}.fits"
        imaged = tpl.category in (ACQUISITION, SCIENCE)
        catg = {ACQUISITION: "ACQUISITION", SCIENCE: "SCIENCE"}.get(tpl.category, "CALIB")
        tech = "IMAGE" if tpl.category == ACQUISITION else tpl.technique
        cards = _common_cards(ex.instrument, ex.telescope, ex.site, ends[i])
        cards += [
            ("OBJECT", _ascii(ex.target.name) or "UNKNOWN", "Target"),
            ("RA", ra, "Target right ascension (deg, ICRS)"),
            ("DEC", dec, "Target declination (deg, ICRS)"),
            ("EQUINOX", ex.target.equinox, "Equinox of RA and DEC (years)"),
            ("RADESYS", "ICRS", "Reference frame"),
            *_time_cards(starts[i], mjds[i], slot.exptime_s),
        ]
        if imaged:
            cards += _wcs_cards(ra, dec, ex.pixel_scale_arcsec)
        cards += [
            ("BUNIT", "ADU", "Data unit"),
            ("ARCFILE", arcfile, "Archive file name"),
            ("ORIGFILE", f"{ex.instrument}_OB{ex.ob_id}_{slot.tpl_no:02d}_{slot.exp_no:04d}.fits",
             "File name at the instrument"),
            ("HIERARCH ESO OBS PROG ID", ex.run_id, "Run id (programme and run)"),
            ("HIERARCH ESO OBS ID", ex.ob_id, "OB id"),
            ("HIERARCH ESO OBS NAME", _ascii(ex.ob_name), "OB name"),
            ("HIERARCH ESO OBS START", ob_start, "OB execution start (UTC)"),
            ("HIERARCH ESO OBS TPLNO", slot.tpl_no, "Template number in the OB"),
            ("HIERARCH ESO TEL AIRM START", air_start[i], "Airmass at start"),
            ("HIERARCH ESO TEL AIRM END", air_end[i], "Airmass at end"),
            ("HIERARCH ESO TEL AMBI FWHM START", seeing, "Seeing at start (arcsec)"),
            ("HIERARCH ESO TEL GEOLAT", ex.site.latitude_deg, "Site latitude (deg)"),
            ("HIERARCH ESO TEL GEOLON", ex.site.longitude_deg, "Site longitude (deg, E+)"),
            ("HIERARCH ESO TEL GEOELEV", ex.site.height_m, "Site height (m)"),
            ("HIERARCH ESO TPL ID", _ascii(tpl.tpl_id), "Template id"),
            ("HIERARCH ESO TPL EXPNO", slot.exp_no, "Exposure number in the template"),
            ("HIERARCH ESO TPL NEXP", len(tpl.exposures_s), "Exposures in the template"),
            ("HIERARCH ESO DPR CATG", catg, "Data category"),
            ("HIERARCH ESO DPR TYPE", tpl.dpr_type, "Data type"),
            ("HIERARCH ESO DPR TECH", tech, "Observation technique"),
        ]  # fmt: skip
        image = Image(
            kind="flat" if tpl.dpr_type == "FLAT" else "sky",
            seed=(ex.seed, i),
            exptime_s=slot.exptime_s,
            star=imaged or tpl.dpr_type == "STD",
            fwhm_px=min(max(fwhm_px, 1.5), 12.0),
        )
        frames.append(Frame(arcfile=arcfile, cards=tuple(cards), image=image))
    return tuple(frames)


def plan_calibrations(cal: CalibrationInput) -> tuple[Frame, ...]:
    """A night's calibration frames of one instrument: biases then lamp flats (``DPR CATG``
    ``CALIB``), no position and no programme, in time order from ``cal.start``."""
    kinds = [("BIAS", 0.0)] * cal.n_bias + [("FLAT", cal.flat_exptime_s)] * cal.n_flat
    t = _ms(cal.start)
    raw = []
    for _, exptime in kinds:
        raw.append(t)
        t += round((exptime + cal.readout_s) * 1000)
    starts = _strictly_increasing(raw)
    isots = [_iso(t) for t in starts]
    mjds = [float(m) for m in np.atleast_1d(Time(isots, format="isot", scale="utc").mjd)]
    frames = []
    counters = {"BIAS": 0, "FLAT": 0}
    for i, (kind, exptime) in enumerate(kinds):
        counters[kind] += 1
        arcfile = f"{cal.instrument}.{isots[i]}.fits"
        end = starts[i] + round(exptime * 1000)
        cards = _common_cards(cal.instrument, cal.telescope, cal.site, end)
        cards += [
            ("OBJECT", kind, "Calibration"),
            *_time_cards(starts[i], mjds[i], exptime),
            ("BUNIT", "ADU", "Data unit"),
            ("ARCFILE", arcfile, "Archive file name"),
            ("ORIGFILE", f"{cal.instrument}_{kind}_{counters[kind]:04d}.fits",
             "File name at the instrument"),
            ("HIERARCH ESO TEL GEOLAT", cal.site.latitude_deg, "Site latitude (deg)"),
            ("HIERARCH ESO TEL GEOLON", cal.site.longitude_deg, "Site longitude (deg, E+)"),
            ("HIERARCH ESO TEL GEOELEV", cal.site.height_m, "Site height (m)"),
            ("HIERARCH ESO TPL ID", f"{cal.instrument}_cal_{kind.lower()}", "Template id"),
            ("HIERARCH ESO TPL EXPNO", counters[kind], "Exposure number in the template"),
            ("HIERARCH ESO TPL NEXP", cal.n_bias if kind == "BIAS" else cal.n_flat,
             "Exposures in the template"),
            ("HIERARCH ESO DPR CATG", "CALIB", "Data category"),
            ("HIERARCH ESO DPR TYPE", "BIAS" if kind == "BIAS" else "FLAT,LAMP", "Data type"),
            ("HIERARCH ESO DPR TECH", "IMAGE" if kind == "BIAS" else cal.technique,
             "Observation technique"),
        ]  # fmt: skip
        image = Image(kind=kind.lower(), seed=(*cal.seed, i), exptime_s=exptime)
        frames.append(Frame(arcfile=arcfile, cards=tuple(cards), image=image))
    return tuple(frames)


# --- the files ---------------------------------------------------------------------------


def image_data(image: Image) -> NDArray[np.int16]:
    """The synthetic ``IMAGE_SIZE`` x ``IMAGE_SIZE`` int16 array of a frame (ADU): a bias level
    with read noise, plus a lamp level (flat) or sky and a Gaussian star growing with the
    exposure time (sky). Deterministic from ``image.seed``."""
    rng = np.random.default_rng(list(image.seed))
    shape = (IMAGE_SIZE, IMAGE_SIZE)
    data = 200.0 + rng.normal(0.0, 5.0, shape)
    if image.kind == "flat":
        level = 10_000.0
        data += level * (1.0 + 0.01 * rng.normal(0.0, 1.0, shape))
    elif image.kind == "sky":
        sky = min(20.0 * image.exptime_s, 5_000.0)
        data += sky + rng.normal(0.0, math.sqrt(sky) if sky > 0 else 0.0, shape)
        if image.star:
            y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
            centre = (IMAGE_SIZE - 1) / 2.0  # 0-based centre = FITS CRPIX - 1
            sigma = image.fwhm_px * _GAUSS_SIGMA_PER_FWHM
            peak = min(500.0 + 300.0 * image.exptime_s, 20_000.0)
            r2 = (x - centre) ** 2 + (y - centre) ** 2
            data += peak * np.exp(-r2 / (2.0 * sigma**2))
    clipped = np.clip(np.rint(data), np.iinfo(np.int16).min, np.iinfo(np.int16).max)
    return clipped.astype(np.int16)


def build_hdul(frame: Frame) -> fits.HDUList:
    """The frame as a one-HDU FITS file (checksums are added by ``writeto(checksum=True)``)."""
    hdu = fits.PrimaryHDU(data=image_data(frame.image))
    for keyword, value, comment in frame.cards:
        hdu.header[keyword] = (value, comment)
    return fits.HDUList([hdu])
