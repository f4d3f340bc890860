"""The upload API for external products: the raw files' checks plus the keyword standard,
every problem reported at once."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pytest
import time_machine
from astropy.io import fits
from django.core.files.uploadedfile import SimpleUploadedFile

from archive import keyword_standard, services
from archive.models import ArchiveFile, QuarantinedFile
from tests.archive.conftest import ArchiveWorld
from tests.archive.frames import execution_frames, flip_data_byte, land
from tests.conftest import bearer_client

URL = "/api/v1/archive/uploads/"


def product_bytes(**changes: Any) -> bytes:
    """A reduced image meeting the default standard (``None`` removes a keyword)."""
    hdu = fits.PrimaryHDU(np.ones((8, 8), dtype=np.float32))
    cards: dict[str, Any] = {
        "PRODCATG": "SCIENCE.IMAGE",
        "PROG_ID": "130.C-0001(A)",
        "OBJECT": "NGC 253",
        "RA": 11.888,
        "DEC": -25.288,
        "EXPTIME": 120.0,
        "MJD-OBS": 61475.17,
        "MJD-END": 61475.18,
        "INSTRUME": "FORS2",
        "TELESCOP": "UT1",
        "OBSTECH": "IMAGE",
        "PROCSOFT": "esorex/5.0",
        "PRODLVL": 3,
        **changes,
    }
    for key, value in cards.items():
        if value is not None:
            hdu.header[key] = value
    buffer = io.BytesIO()
    fits.HDUList([hdu]).writeto(buffer, checksum=True)
    return buffer.getvalue()


def upload(client: Any, data: bytes, name: str = "product.fits") -> Any:
    return client.post(URL, {"file": SimpleUploadedFile(name, data)}, format="multipart")


@pytest.fixture
def raw(world: ArchiveWorld, django_capture_on_commit_callbacks: Any) -> ArchiveFile:
    """A raw frame of the world's run, archived: what products name in PROVi."""
    frame = execution_frames(run_id=world.run_id, ob_id=world.ob.pk)[1]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.ingest_file(path=land(world.landing, frame))
    assert result.archive_file is not None
    return result.archive_file


def test_the_header_validation_lists_every_missing_keyword(world: ArchiveWorld) -> None:
    # given a valid FITS file with checksums but none of the standard's keywords
    hdu = fits.PrimaryHDU(np.zeros((4, 4), dtype=np.int16))
    buffer = io.BytesIO()
    fits.HDUList([hdu]).writeto(buffer, checksum=True)
    # when the PI uploads it
    response = upload(bearer_client(world.pi), buffer.getvalue())
    # then every required keyword is named, with PROV1, in one answer; nothing is stored
    assert response.status_code == 400
    errors = response.json()["errors"]
    required = [r.keyword for r in keyword_standard.DEFAULT_STANDARD.rules if r.required]
    for keyword in [*required, "PROV1"]:
        assert keyword in errors, keyword
    assert errors["PRODCATG"] == ["missing (required)"]
    assert set(errors) == {*required, "PROV1"}
    assert not ArchiveFile.objects.exists() and not QuarantinedFile.objects.exists()


def test_wrong_types_values_and_unknown_provenance_are_reported_together(
    world: ArchiveWorld, raw: ArchiveFile
) -> None:
    data = product_bytes(
        PRODCATG="SCIENCE.MOVIE", RA="eleven", DEC=-95.0, PROV1=raw.arcfile, PROV3="NOPE.fits"
    )
    response = upload(bearer_client(world.pi), data)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "'SCIENCE.MOVIE' is not allowed" in errors["PRODCATG"][0]
    assert errors["RA"] == ["must be a number, not 'eleven'"]
    assert errors["DEC"] == ["-95.0 is below the minimum -90"]
    assert "numbered from 1" in errors["PROV2"][0]
    assert errors["PROV3"] == ["'NOPE.fits' is not a file of this archive"]
    assert "PROV1" not in errors


@time_machine.travel(dt.datetime(2027, 4, 1, 12, tzinfo=dt.UTC), tick=False)
def test_the_pi_delivers_a_product_once_linked_to_its_programme_and_provenance(
    world: ArchiveWorld, raw: ArchiveFile
) -> None:
    data = product_bytes(PROV1=raw.arcfile)
    # when the PI uploads the product
    response = upload(bearer_client(world.pi), data)
    # then it is archived, proprietary for the programme's period, naming its raw frame
    assert response.status_code == 201, response.json()
    body = response.json()
    product = ArchiveFile.objects.get(dp_id=body["dp_id"])
    assert body["outcome"] == "ingested" and body["arcfile"].startswith("ADP.")
    assert product.proposal == world.proposal and product.run == world.run
    assert product.calib_level == 3 and product.provenance == [raw.dp_id]
    assert product.uploaded_by == world.pi
    assert product.release_date == dt.date(2028, 4, 1)
    assert (world.root / product.storage_path).read_bytes() == data
    # and the same bytes again are the same product
    again = upload(bearer_client(world.coi), data)
    assert again.status_code == 200 and again.json()["dp_id"] == body["dp_id"]
    assert ArchiveFile.objects.filter(calib_level__gt=1).count() == 1


def test_someone_outside_the_programme_cannot_deliver_its_products(
    world: ArchiveWorld, raw: ArchiveFile
) -> None:
    response = upload(bearer_client(world.stranger), product_bytes(PROV1=raw.arcfile))
    assert response.status_code == 403
    assert ArchiveFile.objects.count() == 1


def test_a_product_of_an_unknown_programme_is_refused(
    world: ArchiveWorld, raw: ArchiveFile
) -> None:
    response = upload(
        bearer_client(world.staff), product_bytes(PROV1=raw.arcfile, PROG_ID="999.Z-0001(A)")
    )
    assert response.status_code == 400
    assert "unknown programme 999.Z-0001" in response.json()["errors"]["file"][0]


def test_a_product_with_a_broken_checksum_is_refused(world: ArchiveWorld, raw: ArchiveFile) -> None:
    data = flip_data_byte(product_bytes(PROV1=raw.arcfile))
    response = upload(bearer_client(world.pi), data)
    assert response.status_code == 400
    assert "checksum" in response.json()["errors"]["file"][0]
    assert ArchiveFile.objects.count() == 1


def test_not_a_fits_file_and_no_file_are_refused(world: ArchiveWorld) -> None:
    client = bearer_client(world.pi)
    assert upload(client, b"hello").status_code == 400
    response = client.post(URL, {}, format="json")
    assert response.status_code == 400 and "file" in response.json()["errors"]


def test_anonymous_uploads_are_refused(world: ArchiveWorld) -> None:
    from rest_framework.test import APIClient

    assert upload(APIClient(), product_bytes()).status_code == 401


def test_the_keyword_standard_is_published_and_configurable(
    world: ArchiveWorld, settings: Any
) -> None:
    # given a configured standard requiring only ORIGIN
    settings.ARCHIVE_KEYWORD_STANDARD = {
        "name": "minimal",
        "rules": [{"keyword": "ORIGIN", "type": "str", "allowed": ["ESO"]}],
        "min_provenance": 0,
    }
    # when
    response = bearer_client(world.pi).get("/api/v1/archive/uploads/keyword-standard/")
    # then
    assert response.status_code == 200
    assert response.json()["name"] == "minimal"
    assert [r["keyword"] for r in response.json()["rules"]] == ["ORIGIN"]
    refused = upload(bearer_client(world.pi), product_bytes(ORIGIN="LCO"))
    assert refused.json()["errors"] == {"ORIGIN": ["'LCO' is not allowed (one of ESO)"]}
