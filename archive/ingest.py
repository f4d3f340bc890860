"""Reading a FITS file for the archive: structure, checksums, sha256 and the searchable keywords.
No Django, no settings, no clock: bytes in, a frozen :class:`FrameInfo` out, or
:class:`IngestRefused` with the reason.

Speed (``benchmarks/archive_ingest.py``): opening a file with ``astropy.io.fits`` and
``checksum=True`` costs ~2.4 ms and ``astropy.wcs.WCS(...).calc_footprint()`` another ~1.6 ms,
so the file's HDUs are walked here from the raw bytes, the cards' plain values parsed here
(astropy's ``Header`` parses each value lazily, ~20 us each), the FITS checksums (ones'
complement sums of 32-bit words, the standard's algorithm, as astropy computes them) summed
with numpy, and a plain tangent-plane WCS projected in closed form (any other projection goes
through astropy's WCS).
Where astropy would only *warn* "Checksum verification failed", this refuses the file; the
tests check both readings agree.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from astropy.time import Time

BLOCK = 2880
CARD = 80
_NEGATIVE_ZERO = 0xFFFFFFFF
_END = re.compile(rb"END {77}")
#: ESO raw file names: ``<INSTRUME>.<DATE-OBS to the ms>.fits``.
ARCFILE_PATTERN = re.compile(r"^[A-Z0-9]+\.\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\.fits$")
#: ``HIERARCH ESO OBS PROG ID`` holds the run id: the programme, then the run letter.
RUN_ID_PATTERN = re.compile(r"^(?P<programme>\S+)\((?P<letter>[A-Z]{1,2})\)$")

PROG_ID = "HIERARCH ESO OBS PROG ID"
OBS_ID = "HIERARCH ESO OBS ID"
OBS_START = "HIERARCH ESO OBS START"
DPR_CATG = "HIERARCH ESO DPR CATG"
DPR_TYPE = "HIERARCH ESO DPR TYPE"
DPR_TECH = "HIERARCH ESO DPR TECH"
GEOLON = "HIERARCH ESO TEL GEOLON"
CATEGORIES = ("SCIENCE", "CALIB", "ACQUISITION")
#: Every raw frame carries these; science and acquisition frames also ``RAW_PROGRAMME_KEYWORDS``.
RAW_KEYWORDS = ("ARCFILE", "INSTRUME", "DATE-OBS", "MJD-OBS", "EXPTIME", DPR_CATG)
RAW_PROGRAMME_KEYWORDS = (PROG_ID, OBS_ID, OBS_START)


class IngestRefused(Exception):
    """The file cannot be archived; ``reason`` says why (shown to staff in the quarantine)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Values = Mapping[str, "CardValue"]
CardValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class HDUBlock:
    """One HDU of a file: its header's values and text (the cards up to ``END``), and the byte
    ranges of header and (padded) data."""

    header: Values
    text: str
    start: int
    data_start: int
    end: int


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What the archive records of a file (see ``archive.models.ArchiveFile``). Angles in
    degrees (ICRS), times UTC, ``t_min``/``t_max`` MJD; ``footprint`` the WCS's four corners."""

    arcfile: str
    origfile: str
    category: str
    dpr_type: str
    dpr_tech: str
    instrument_name: str
    telescope_name: str
    object_name: str
    ra_deg: float | None
    dec_deg: float | None
    footprint: tuple[tuple[float, float], ...] | None
    fov_deg: float | None
    date_obs: datetime.datetime
    t_min: float
    t_max: float
    exptime_s: float
    prog_id: str
    programme_id: str
    run_letter: str
    ob_id: int | None
    obs_start: datetime.datetime | None
    night: datetime.date | None
    sha256: str
    size_bytes: int
    header_text: str
    calib_level: int = 1
    provenance: tuple[str, ...] = ()
    header: Values = field(default_factory=dict, compare=False, repr=False)

    @property
    def dp_id(self) -> str:
        return self.arcfile.removesuffix(".fits")


# --- structure and checksums -----------------------------------------------------------------


def split_hdus(data: bytes) -> list[HDUBlock]:
    """The HDUs of a FITS file's bytes; ``IngestRefused`` ("not a FITS file") otherwise."""
    if not data.startswith(b"SIMPLE  =") or len(data) < BLOCK:
        raise IngestRefused("not a FITS file: it does not start with a SIMPLE card")
    if len(data) % BLOCK:
        raise IngestRefused(f"not a FITS file: {len(data)} bytes is not a multiple of {BLOCK}")
    hdus: list[HDUBlock] = []
    start = 0
    while start < len(data):
        end_card = _end_card(data, start)
        try:
            text = data[start:end_card].decode("ascii")
            header = parse_cards(text)
            size = _data_size(header)
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as error:
            raise IngestRefused(f"not a FITS file: HDU {len(hdus)}'s header: {error}") from None
        data_start = -(-end_card // BLOCK) * BLOCK
        end = data_start + -(-size // BLOCK) * BLOCK
        if end > len(data):
            raise IngestRefused(f"not a FITS file: HDU {len(hdus)}'s data are truncated")
        hdus.append(HDUBlock(header, text, start, data_start, end))
        start = end
    return hdus


def _end_card(data: bytes, start: int) -> int:
    """The offset after the header's END card."""
    for block in range(start, len(data), BLOCK):
        chunk = data[block : block + BLOCK]
        offset = chunk.find(b"END ")
        while offset != -1:
            if offset % CARD == 0 and _END.fullmatch(chunk, offset, offset + CARD):
                return block + offset + CARD
            offset = chunk.find(b"END ", offset + 1)
    raise IngestRefused("not a FITS file: a header has no END card")


_VALUE = re.compile(
    r"""\s*(?:'(?P<str>(?:[^']|'')*)'|(?P<bool>[TF])|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)
    (?:[EeDd][+-]?\d+)?))?\s*(?:/.*)?$""",
    re.X,
)


def parse_cards(text: str) -> dict[str, CardValue]:
    """The keyword values of a header's cards (``HIERARCH ESO OBS ID`` as written, spaces
    single); COMMENT, HISTORY and blank cards skipped. Plain values are read here (astropy's
    per-card parsing costs ~20 us a value); anything else (complex numbers, long strings over
    CONTINUE cards) by astropy."""
    if "CONTINUE  " in text:
        return _astropy_values(text)
    values: dict[str, CardValue] = {}
    for offset in range(0, len(text) - CARD + 1, CARD):
        card = text[offset : offset + CARD]
        if card.startswith("HIERARCH "):
            keyword, equals, rest = card.partition("=")
            if not equals:
                continue
            key = " ".join(keyword.split())
        elif card[8:10] == "= ":
            key, rest = card[:8].rstrip(), card[10:]
        else:
            continue
        match = _VALUE.match(rest)
        if match is None:
            values[key] = fits.Card.fromstring(card).value
        elif match["str"] is not None:
            values[key] = match["str"].replace("''", "'").rstrip()
        elif match["bool"] is not None:
            values[key] = match["bool"] == "T"
        elif match["num"] is not None:
            number = match["num"]
            if any(c in number for c in ".EeDd"):
                values[key] = float(number.replace("D", "E").replace("d", "e"))
            else:
                values[key] = int(number)
        else:
            values[key] = None
    return values


def _astropy_values(text: str) -> dict[str, CardValue]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = fits.Header.fromstring(text)
    values: dict[str, CardValue] = {}
    for card in header.cards:
        if card.keyword in ("COMMENT", "HISTORY", ""):
            continue
        hierarch = len(card.keyword) > 8 or " " in card.keyword
        key = f"HIERARCH {card.keyword}" if hierarch else card.keyword
        value = card.value
        values[key] = None if isinstance(value, fits.card.Undefined) else value
    return values


def _data_size(header: Values) -> int:
    """Bytes of an HDU's data before padding (FITS 4.0, section 4.4.1)."""
    naxis = int(header.get("NAXIS") or 0)
    if naxis == 0:
        return 0
    bitpix = abs(int(header["BITPIX"]))  # type: ignore[arg-type]
    axes = [int(header[f"NAXIS{i}"]) for i in range(1, naxis + 1)]  # type: ignore[arg-type]
    if header.get("GROUPS") is True and axes[0] == 0:
        axes = axes[1:]
    pixels = math.prod(axes)
    gcount, pcount = int(header.get("GCOUNT") or 1), int(header.get("PCOUNT") or 0)
    return bitpix // 8 * gcount * (pcount + pixels)


def ones_complement_sum(buffer: bytes | memoryview) -> int:
    """The FITS checksum of bytes (a multiple of 4 long): the 32-bit ones' complement sum of
    the big-endian words, carries folded back (as ``astropy.io.fits`` computes it)."""
    words = np.frombuffer(buffer, dtype=">u4")
    hi = int(np.add.reduce(words >> 16, dtype=np.uint64))
    lo = int(np.add.reduce(words & 0xFFFF, dtype=np.uint64))
    hi_carry, lo_carry = hi >> 16, lo >> 16
    while hi_carry or lo_carry:
        hi, lo = (hi & 0xFFFF) + lo_carry, (lo & 0xFFFF) + hi_carry
        hi_carry, lo_carry = hi >> 16, lo >> 16
    return (hi << 16) + lo


def verify_checksums(data: bytes, hdus: Sequence[HDUBlock]) -> None:
    """Every HDU's ``DATASUM`` and ``CHECKSUM`` present and right; a mismatch is an error."""
    view = memoryview(data)
    for i, hdu in enumerate(hdus):
        missing = [k for k in ("CHECKSUM", "DATASUM") if k not in hdu.header]
        if missing:
            raise IngestRefused(f"checksum: HDU {i} has no {' or '.join(missing)} keyword")
        datasum = ones_complement_sum(view[hdu.data_start : hdu.end])
        try:
            declared = int(str(hdu.header["DATASUM"]).strip())
        except ValueError:
            raise IngestRefused(f"checksum: HDU {i}'s DATASUM is not a number") from None
        if datasum != declared:
            raise IngestRefused(
                f"checksum: HDU {i}'s data verification failed (DATASUM {declared}, "
                f"computed {datasum}): the data were altered"
            )
        header_sum = ones_complement_sum(view[hdu.start : hdu.data_start])
        total = header_sum + datasum
        total = (total & _NEGATIVE_ZERO) + (total >> 32)
        if total != _NEGATIVE_ZERO:
            raise IngestRefused(f"checksum: HDU {i}'s CHECKSUM verification failed")


# --- keywords --------------------------------------------------------------------------------


def read_file(data: bytes, *, verify: bool = True) -> tuple[list[HDUBlock], str]:
    """The HDUs (checksums verified) and the sha256 of a file's bytes."""
    hdus = split_hdus(data)
    if verify:
        verify_checksums(data, hdus)
    return hdus, hashlib.sha256(data).hexdigest()


def read_raw_frame(data: bytes) -> FrameInfo:
    """A raw frame from the landing area: structure, checksums, the keywords of an ESO raw
    file (every missing one named at once); ``IngestRefused`` otherwise."""
    hdus, sha = read_file(data)
    header = hdus[0].header
    missing = [k for k in RAW_KEYWORDS if _blank(header, k)]
    category = str(header.get(DPR_CATG, "")).strip().upper()
    if category in ("SCIENCE", "ACQUISITION"):
        missing += [k for k in RAW_PROGRAMME_KEYWORDS if _blank(header, k)]
    if missing:
        raise IngestRefused(f"missing keywords: {', '.join(missing)}")
    if category not in CATEGORIES:
        raise IngestRefused(f"unknown {DPR_CATG} {category!r} (one of {', '.join(CATEGORIES)})")
    arcfile = str(header["ARCFILE"]).strip()
    if not ARCFILE_PATTERN.match(arcfile):
        raise IngestRefused(f"ARCFILE {arcfile!r} is not <INSTRUME>.<DATE-OBS>.fits")
    prog_id, programme, letter = "", "", ""
    if not _blank(header, PROG_ID):
        prog_id = str(header[PROG_ID]).strip()
        match = RUN_ID_PATTERN.match(prog_id)
        if match is None:
            raise IngestRefused(f"{PROG_ID} {prog_id!r} is not a run id like 130.C-0001(A)")
        programme, letter = match["programme"], match["letter"]
    ob_id = None
    if not _blank(header, OBS_ID):
        ob_id = _int(header, OBS_ID)
    obs_start = _utc(header, OBS_START) if not _blank(header, OBS_START) else None
    return _frame_info(
        header,
        hdus,
        sha=sha,
        size=len(data),
        arcfile=arcfile,
        category=category,
        prog_id=prog_id,
        programme=programme,
        letter=letter,
        ob_id=ob_id,
        obs_start=obs_start,
        calib_level=1,
        provenance=(),
    )


def product_info(
    data: bytes,
    hdus: Sequence[HDUBlock],
    sha: str,
    *,
    arcfile: str,
    programme: str,
    letter: str,
    calib_level: int,
    provenance: tuple[str, ...],
) -> FrameInfo:
    """An external product's record, once ``archive.keyword_standard`` accepted its header."""
    header = hdus[0].header
    return _frame_info(
        header,
        hdus,
        sha=sha,
        size=len(data),
        arcfile=arcfile,
        category="SCIENCE",
        prog_id=f"{programme}({letter})",
        programme=programme,
        letter=letter,
        ob_id=None,
        obs_start=None,
        calib_level=calib_level,
        provenance=provenance,
    )


def _frame_info(
    header: Values,
    hdus: Sequence[HDUBlock],
    *,
    sha: str,
    size: int,
    arcfile: str,
    category: str,
    prog_id: str,
    programme: str,
    letter: str,
    ob_id: int | None,
    obs_start: datetime.datetime | None,
    calib_level: int,
    provenance: tuple[str, ...],
) -> FrameInfo:
    t_min = _float(header, "MJD-OBS")
    date_obs = (
        _utc(header, "DATE-OBS")
        if not _blank(header, "DATE-OBS")
        else Time(t_min, format="mjd", scale="utc").to_datetime(timezone=datetime.UTC)
    )
    exptime = _float(header, "EXPTIME") if not _blank(header, "EXPTIME") else 0.0
    t_max = _float(header, "MJD-END") if not _blank(header, "MJD-END") else t_min + exptime / 86400
    ra = _optional_float(header, "RA")
    dec = _optional_float(header, "DEC")
    footprint = None
    for hdu in hdus:  # the first HDU with a celestial WCS (products keep it in an extension)
        footprint = footprint_of(hdu.header, hdu.text)
        if footprint is not None:
            break
    fov = _fov(footprint) if footprint else None
    if footprint and (ra is None or dec is None):
        ra, dec = _centre(footprint)
    lon = _optional_float(header, GEOLON)
    return FrameInfo(
        arcfile=arcfile,
        origfile=str(header.get("ORIGFILE", "")).strip(),
        category=category,
        dpr_type=str(header.get(DPR_TYPE, "")).strip()[:40],
        dpr_tech=str(header.get(DPR_TECH, "")).strip()[:40],
        instrument_name=str(header.get("INSTRUME", "")).strip()[:32],
        telescope_name=str(header.get("TELESCOP", "")).strip()[:32],
        object_name=str(header.get("OBJECT", "")).strip()[:200],
        ra_deg=ra,
        dec_deg=dec,
        footprint=footprint,
        fov_deg=fov,
        date_obs=date_obs,
        t_min=t_min,
        t_max=t_max,
        exptime_s=exptime,
        prog_id=prog_id,
        programme_id=programme,
        run_letter=letter,
        ob_id=ob_id,
        obs_start=obs_start,
        night=night_of(date_obs, lon) if lon is not None else None,
        sha256=sha,
        size_bytes=size,
        header_text=hdus[0].text,
        calib_level=calib_level,
        provenance=provenance,
        header=header,
    )


def night_of(instant: datetime.datetime, longitude_deg: float) -> datetime.date:
    """The night an instant belongs to: the local (mean solar) date at its evening, i.e. the
    date 12 h before the local time (a morning calibration belongs to the night before)."""
    local = instant + datetime.timedelta(hours=longitude_deg / 15.0 - 12.0)
    return local.date()


def _blank(header: Values, key: str) -> bool:
    value = header.get(key)
    return value is None or (isinstance(value, str) and not value.strip())


def _float(header: Values, key: str) -> float:
    value = header[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IngestRefused(f"{key} is not a number: {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise IngestRefused(f"{key} is not finite: {value!r}")
    return result


def _optional_float(header: Values, key: str) -> float | None:
    if _blank(header, key):
        return None
    return _float(header, key)


def _int(header: Values, key: str) -> int:
    value = header[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise IngestRefused(f"{key} is not an integer: {value!r}")
    return int(value)


def _utc(header: Values, key: str) -> datetime.datetime:
    """An ISO date-time keyword (UTC, e.g. 2027-03-11T04:05:06.789)."""
    value = str(header[key]).strip()
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise IngestRefused(f"{key} is not an ISO date and time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


# --- footprint -------------------------------------------------------------------------------


def footprint_of(header: Values, text: str = "") -> tuple[tuple[float, float], ...] | None:
    """The four corners (pixel centres, as ``WCS.calc_footprint``) of a 2-D image with a
    celestial WCS, degrees; ``None`` without one."""
    ctype1, ctype2 = str(header.get("CTYPE1", "")), str(header.get("CTYPE2", ""))
    if not (ctype1.startswith("RA--") and ctype2.startswith("DEC-")):
        return None
    try:
        n1, n2 = int(_num(header, "NAXIS1")), int(_num(header, "NAXIS2"))
    except (KeyError, ValueError, TypeError):
        return None
    corners = np.array([[1.0, 1.0], [1.0, n2], [n1, n2], [n1, 1.0]])
    try:
        if ctype1 == "RA---TAN" and ctype2 == "DEC--TAN" and _plain_tan(header):
            ra, dec = _tan_world(header, corners)
        else:
            ra, dec = _astropy_world(text, corners)
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        return None
    return tuple((float(r) % 360.0, float(d)) for r, d in zip(ra, dec, strict=True))


_DISTORTION = ("A_ORDER", "PV1_1", "PV2_1", "LONPOLE", "LATPOLE", "CDELT3", "WCSAXES")


def _plain_tan(header: Values) -> bool:
    """A tangent plane without distortion or unusual poles, in degrees: closed form applies."""
    units = {str(header.get(k) or "deg").strip() for k in ("CUNIT1", "CUNIT2")}
    return units <= {"deg", ""} and not any(k in header for k in _DISTORTION)


def _num(header: Values, key: str, default: float | None = None) -> float:
    """A numeric keyword (``default`` when absent); ``ValueError`` when not a number."""
    value = header.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _linear(header: Values) -> np.ndarray:
    if "CD1_1" in header:
        return np.array(
            [
                [_num(header, "CD1_1", 0.0), _num(header, "CD1_2", 0.0)],
                [_num(header, "CD2_1", 0.0), _num(header, "CD2_2", 0.0)],
            ]
        )
    pc = np.array(
        [
            [_num(header, "PC1_1", 1.0), _num(header, "PC1_2", 0.0)],
            [_num(header, "PC2_1", 0.0), _num(header, "PC2_2", 1.0)],
        ]
    )
    cdelt = np.array([_num(header, "CDELT1"), _num(header, "CDELT2")])
    return cdelt[:, None] * pc


def _tan_world(header: Values, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic deprojection (FITS WCS paper II, TAN with LONPOLE 180) of 1-based pixels."""
    crpix = np.array([_num(header, "CRPIX1"), _num(header, "CRPIX2")])
    ra0, dec0 = np.radians(_num(header, "CRVAL1")), np.radians(_num(header, "CRVAL2"))
    xi, eta = np.radians(_linear(header) @ (pixels - crpix).T)
    denominator = np.cos(dec0) - eta * np.sin(dec0)
    ra = ra0 + np.arctan2(xi, denominator)
    dec = np.arctan2(np.sin(dec0) + eta * np.cos(dec0), np.hypot(xi, denominator))
    return np.degrees(ra), np.degrees(dec)


def _astropy_world(text: str, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(fits.Header.fromstring(text), naxis=2)
    world = wcs.all_pix2world(pixels, 1)
    return world[:, 0], world[:, 1]


def _unit(ra: float, dec: float) -> np.ndarray:
    r, d = math.radians(ra), math.radians(dec)
    return np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])


def _centre(footprint: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    v = np.sum([_unit(ra, dec) for ra, dec in footprint], axis=0)
    x, y, z = (float(c) for c in np.asarray(v / np.linalg.norm(v)))
    return math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.asin(z))


def _fov(footprint: tuple[tuple[float, float], ...]) -> float:
    """The largest corner-to-corner separation, degrees (ObsCore's s_fov: the diameter)."""
    units = [_unit(ra, dec) for ra, dec in footprint]
    cosines = [float(np.dot(a, b)) for i, a in enumerate(units) for b in units[i + 1 :]]
    return math.degrees(math.acos(max(-1.0, min(1.0, min(cosines)))))
