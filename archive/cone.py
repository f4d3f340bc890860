"""Cone searches on the archive's plain ``ra_deg``/``dec_deg`` columns, on any database.

A cone is a box first (so the ``(dec_deg, ra_deg)`` index narrows the rows) and then the exact
great-circle distance by the haversine formula, evaluated by the database (Django registers
the trigonometric functions on SQLite too). The box in right ascension widens by 1/cos(dec)
and wraps at 0°/360°; near a pole it covers every right ascension. TAP's ADQL geometry uses
pgSphere on PostgreSQL instead; this is what the search pages, cone search and SIA use.
"""

from __future__ import annotations

import math

from django.db.models import F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import Combinable, Func
from django.db.models.functions import ASin, Cos, Degrees, Power, Radians, Sin, Sqrt

from archive.models import ArchiveFile


def ra_ranges(ra_deg: float, dec_deg: float, radius_deg: float) -> list[tuple[float, float]]:
    """The right-ascension intervals (degrees, within [0, 360]) of the cone's bounding box."""
    if abs(dec_deg) + radius_deg >= 90.0:
        return [(0.0, 360.0)]
    half_width = math.degrees(
        math.asin(min(1.0, math.sin(math.radians(radius_deg)) / math.cos(math.radians(dec_deg))))
    )
    low, high = ra_deg - half_width, ra_deg + half_width
    if high - low >= 360.0:
        return [(0.0, 360.0)]
    if low < 0.0:
        return [(low + 360.0, 360.0), (0.0, high)]
    if high > 360.0:
        return [(low, 360.0), (0.0, high - 360.0)]
    return [(low, high)]


def box_q(ra_deg: float, dec_deg: float, radius_deg: float) -> Q:
    """Rows inside the cone's bounding box (a superset of the cone)."""
    ra_q = Q()
    for low, high in ra_ranges(ra_deg, dec_deg, radius_deg):
        ra_q |= Q(ra_deg__gte=low, ra_deg__lte=high)
    return Q(dec_deg__gte=dec_deg - radius_deg, dec_deg__lte=dec_deg + radius_deg) & ra_q


def distance_deg(ra_deg: float, dec_deg: float) -> Func | Combinable:
    """The great-circle distance of each row from (ra, dec), in degrees, as an expression."""
    dec0, ra0 = math.radians(dec_deg), math.radians(ra_deg)
    d_dec = (Radians(F("dec_deg")) - Value(dec0)) / Value(2.0)
    d_ra = (Radians(F("ra_deg")) - Value(ra0)) / Value(2.0)
    haversine = Power(Sin(d_dec), 2) + Value(math.cos(dec0)) * Cos(Radians(F("dec_deg"))) * Power(
        Sin(d_ra), 2
    )
    return Degrees(Value(2.0) * ASin(Sqrt(haversine)), output_field=FloatField())


def cone(
    files: QuerySet[ArchiveFile], ra_deg: float, dec_deg: float, radius_deg: float
) -> QuerySet[ArchiveFile]:
    """``files`` within ``radius_deg`` of (ra, dec), annotated with ``distance_deg``."""
    return (
        files.filter(box_q(ra_deg, dec_deg, radius_deg))
        .annotate(distance_deg=distance_deg(ra_deg, dec_deg))
        .filter(distance_deg__lte=radius_deg)
    )
