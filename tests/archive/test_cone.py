"""Cone searches on plain columns agree with astropy's separations, across 0°/360° and poles."""

import datetime

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from archive.cone import cone, ra_ranges
from archive.models import ArchiveFile, Category


def make_file(i: int, ra: float, dec: float) -> ArchiveFile:
    return ArchiveFile(
        dp_id=f"TEST.{i:06d}",
        arcfile=f"TEST.{i:06d}.fits",
        category=Category.SCIENCE,
        instrument_name="FORS2",
        ra_deg=ra,
        dec_deg=dec,
        date_obs=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
        t_min=0.0,
        t_max=0.0,
        sha256="0" * 64,
        size_bytes=1,
        storage_path="x",
        header_text="",
        release_date=datetime.date(2027, 1, 1),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ra0", "dec0", "radius"),
    [
        (10.0, -25.0, 1.0),
        (359.8, 5.0, 0.5),
        (0.1, -60.0, 2.0),
        (200.0, 88.5, 3.0),
        (45.0, -89.9, 0.3),
    ],
)
def test_cone_matches_astropy_separations(ra0: float, dec0: float, radius: float) -> None:
    rng = np.random.default_rng(7)
    # Points scattered around the centre (within 3 radii), wrapped into [0, 360).
    center = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    offsets = center.directional_offset_by(
        rng.uniform(0, 360, 400) * u.deg, rng.uniform(0, 3 * radius, 400) * u.deg
    )
    ras, decs = offsets.ra.deg, offsets.dec.deg
    ArchiveFile.objects.bulk_create(
        make_file(i, r, d) for i, (r, d) in enumerate(zip(ras, decs, strict=True))
    )
    expected = {
        f"TEST.{i:06d}" for i, sep in enumerate(center.separation(offsets).deg) if sep <= radius
    }
    found = cone(ArchiveFile.objects.all(), ra0, dec0, radius)
    assert expected  # the sample reaches inside the cone
    assert set(found.values_list("dp_id", flat=True)) == expected
    # The annotation is added inside cone(), where the stubs cannot follow it.
    for row in found.values("ra_deg", "dec_deg", "distance_deg"):  # type: ignore[misc]
        exact = center.separation(SkyCoord(row["ra_deg"] * u.deg, row["dec_deg"] * u.deg)).deg
        assert row["distance_deg"] == pytest.approx(exact, abs=1e-9)


def test_ra_box_wraps_and_covers_the_poles() -> None:
    assert ra_ranges(359.9, 0.0, 0.5) == [
        pytest.approx((359.4, 360.0)),
        pytest.approx((0.0, 0.4)),
    ]
    assert ra_ranges(10.0, 89.8, 0.5) == [(0.0, 360.0)]
