"""SIA 2.0 and cone-search constraints on the archive's plain columns (any database).

Each parameter may repeat: values of one parameter are OR-ed, different parameters AND-ed.
Positions are narrowed in the database by bounding boxes (archive.cone's index-friendly box)
and decided exactly in Python (great-circle distance, point in spherical polygon), so SIA works
on SQLite under ``make run`` as on PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from archive.cone import box_q
from archive.models import ArchiveFile
from archive.vo.schema import DATALINK_FORMAT, DID_PREFIX

DEFAULT_MAXREC = 1000
HARD_MAXREC = 100_000


class ParameterError(ValueError):
    """A parameter the client sent is malformed (the message names it)."""


def floats(name: str, text: str, count: int | None = None) -> list[float]:
    try:
        values = [float(v) for v in text.split()]
    except ValueError as error:
        raise ParameterError(f"{name}: not numbers: {text!r}") from error
    if count is not None and len(values) != count:
        raise ParameterError(f"{name}: expected {count} numbers, got {text!r}")
    if any(math.isnan(v) for v in values):
        raise ParameterError(f"{name}: NaN is not allowed")
    return values


def interval(name: str, text: str) -> tuple[float, float]:
    low, high = floats(name, text, 2)
    if low > high:
        raise ParameterError(f"{name}: the lower bound is above the upper one: {text!r}")
    return low, high


def separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance (haversine), degrees."""
    p1, p2 = math.radians(dec1), math.radians(dec2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(a))))


def _unit(ra: float, dec: float) -> tuple[float, float, float]:
    r, d = math.radians(ra), math.radians(dec)
    return math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)


@dataclass(frozen=True)
class Shape:
    """A POS value: a database prefilter and an exact test of a position."""

    prefilter: Q
    contains: Callable[[float, float], bool]


def circle(ra: float, dec: float, radius: float) -> Shape:
    return Shape(box_q(ra, dec, radius), lambda r, d: separation_deg(ra, dec, r, d) <= radius)


def polygon(points: list[tuple[float, float]]) -> Shape:
    """A spherical polygon (edges great circles), tested in the gnomonic projection about its
    centre, where great circles are straight lines (polygons smaller than a hemisphere)."""
    x, y, z = (sum(c) for c in zip(*(_unit(ra, dec) for ra, dec in points), strict=True))
    norm = math.sqrt(x * x + y * y + z * z)
    if norm == 0:
        raise ParameterError("POS: the polygon has no centre")
    ra0 = math.degrees(math.atan2(y, x)) % 360
    dec0 = math.degrees(math.asin(z / norm))
    radius = max(separation_deg(ra0, dec0, ra, dec) for ra, dec in points)
    if radius >= 89.0:
        raise ParameterError("POS: polygons must be smaller than a hemisphere")

    def project(ra: float, dec: float) -> tuple[float, float] | None:
        a, d, a0, d0 = map(math.radians, (ra, dec, ra0, dec0))
        cos_c = math.sin(d0) * math.sin(d) + math.cos(d0) * math.cos(d) * math.cos(a - a0)
        if cos_c <= 0:
            return None
        px = math.cos(d) * math.sin(a - a0) / cos_c
        py = (math.cos(d0) * math.sin(d) - math.sin(d0) * math.cos(d) * math.cos(a - a0)) / cos_c
        return px, py

    vertices = [project(ra, dec) for ra, dec in points]
    plane = [v for v in vertices if v is not None]

    def contains(ra: float, dec: float) -> bool:
        point = project(ra, dec)
        if point is None:
            return False
        px, py = point
        inside = False
        for (x1, y1), (x2, y2) in zip(plane, plane[1:] + plane[:1], strict=True):
            if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    return Shape(box_q(ra0, dec0, radius), contains)


def parse_pos(text: str) -> Shape:
    kind, _, rest = text.strip().partition(" ")
    kind = kind.upper()
    if kind == "CIRCLE":
        ra, dec, radius = floats("POS", rest, 3)
        if not (-90 <= dec <= 90) or radius <= 0 or radius > 180:
            raise ParameterError(f"POS: not a valid circle: {text!r}")
        return circle(ra % 360, dec, radius)
    if kind == "RANGE":
        ra1, ra2, dec1, dec2 = floats("POS", rest, 4)
        if ra1 > ra2 or dec1 > dec2:
            raise ParameterError(f"POS: a range's lower bounds must not exceed its upper: {text!r}")
        ra_q = Q() if ra2 - ra1 >= 360 else Q(ra_deg__gte=ra1, ra_deg__lte=ra2)
        prefilter = ra_q & Q(dec_deg__gte=dec1, dec_deg__lte=dec2)
        return Shape(prefilter, lambda r, d: True)
    if kind == "POLYGON":
        values = floats("POS", rest)
        if len(values) < 6 or len(values) % 2:
            raise ParameterError(f"POS: a polygon needs at least three vertices: {text!r}")
        return polygon(list(zip(values[0::2], values[1::2], strict=True)))
    raise ParameterError(f"POS: expected CIRCLE, RANGE or POLYGON, not {kind!r}")


def _any(values: list[str], make: Callable[[str], Q]) -> Q:
    combined = Q(pk__in=[])
    for value in values:
        combined |= make(value)
    return combined


def _interval_q(name: str, field: str) -> Callable[[str], Q]:
    def make(text: str) -> Q:
        low, high = interval(name, text)
        q = Q()
        if math.isfinite(low):
            q &= Q(**{f"{field}__gte": low})
        if math.isfinite(high):
            q &= Q(**{f"{field}__lte": high})
        return q & Q(**{f"{field}__isnull": False})

    return make


def _time_q(text: str) -> Q:
    low, high = interval("TIME", text)
    q = Q()
    if math.isfinite(high):
        q &= Q(t_min__lte=high)
    if math.isfinite(low):
        q &= Q(t_max__gte=low)
    return q


def _calib_q(text: str) -> Q:
    try:
        return Q(calib_level=int(text))
    except ValueError as error:
        raise ParameterError(f"CALIB: not an integer: {text!r}") from error


def _dptype_q(text: str) -> Q:
    spectrum = Q(dpr_tech__icontains="SPECTRUM")
    if text == "spectrum":
        return spectrum
    if text == "image":
        return ~spectrum
    return Q(pk__in=[])


def _id_q(text: str) -> Q:
    return Q(dp_id=text.removeprefix(DID_PREFIX))


def _format_q(text: str) -> Q:
    known = {DATALINK_FORMAT, "application/fits", "image/fits"}
    return Q() if text in known else Q(pk__in=[])


def _nothing(text: str) -> Q:
    """Constraints on axes the archive does not record (spectral, polarisation, resolution)."""
    return Q(pk__in=[])


SIMPLE: dict[str, Callable[[str], Q]] = {
    "TIME": _time_q,
    "EXPTIME": _interval_q("EXPTIME", "exptime_s"),
    "FOV": _interval_q("FOV", "fov_deg"),
    "BAND": _nothing,
    "SPATRES": _nothing,
    "POL": _nothing,
    "ID": _id_q,
    "COLLECTION": lambda v: Q(instrument_name=v),
    "FACILITY": lambda v: Q(telescope_name=v),
    "INSTRUMENT": lambda v: Q(instrument_name=v),
    "DPTYPE": _dptype_q,
    "CALIB": _calib_q,
    "TARGET": lambda v: Q(object_name__iexact=v),
    "FORMAT": _format_q,
}


@dataclass(frozen=True)
class SiaQuery:
    filter: Q
    shapes: list[Shape]
    maxrec: int


def parse(params: dict[str, list[str]]) -> SiaQuery:
    """The SIA 2.0 parameters (names upper-cased) as a query; :class:`ParameterError` if bad."""
    condition = Q()
    for name, make in SIMPLE.items():
        if values := params.get(name):
            condition &= _any(values, make)
    shapes = [parse_pos(v) for v in params.get("POS", [])]
    if shapes:
        positions = Q(pk__in=[])
        for shape in shapes:
            positions |= shape.prefilter
        condition &= positions
    maxrec = DEFAULT_MAXREC
    if values := params.get("MAXREC"):
        try:
            maxrec = int(values[-1])
        except ValueError as error:
            raise ParameterError(f"MAXREC: not an integer: {values[-1]!r}") from error
        if maxrec < 0:
            raise ParameterError("MAXREC: must not be negative")
    return SiaQuery(filter=condition, shapes=shapes, maxrec=min(maxrec, HARD_MAXREC))


def matching(files: QuerySet[ArchiveFile], query: SiaQuery) -> Iterator[ArchiveFile]:
    """The files of ``files`` the query selects, exact in position."""
    rows = files.filter(query.filter).defer("header_text")
    for f in rows.iterator(chunk_size=2000):
        if query.shapes and not (
            f.ra_deg is not None
            and f.dec_deg is not None
            and any(s.contains(f.ra_deg, f.dec_deg) for s in query.shapes)
        ):
            continue
        yield f
