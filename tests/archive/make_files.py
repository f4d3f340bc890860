"""Archived files for the search, download and delegate tests: rows made directly (as the
ingestion would leave them) and, where bytes are needed, a small FITS file written with astropy
into ``settings.ARCHIVE_ROOT``."""

from __future__ import annotations

import datetime
import hashlib
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from django.conf import settings

from archive.models import ArchiveFile, Category
from proposals.models import Proposal, ProposalStatus
from tests.factories import PeriodFactory, complete_proposal

_serial = count(1)


def programme(pi: Any, programme_id: str = "118.C-0003") -> Proposal:
    """An approved proposal of ``pi`` with a programme id (its data are proprietary to it)."""
    proposal = complete_proposal(pi=pi, period=PeriodFactory.create(), title="Archived one")
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.APPROVED, programme_id=programme_id
    )
    proposal.refresh_from_db()
    return proposal


def make_file(
    *,
    proposal: Proposal | None = None,
    category: str = Category.SCIENCE,
    release_date: datetime.date | None = None,
    write: bool = False,
    **values: Any,
) -> ArchiveFile:
    """An archived file (proprietary for a year unless said otherwise); with ``write``, its
    FITS bytes in archive storage with the matching sha256 and size."""
    n = next(_serial)
    stamp = datetime.datetime(2027, 3, 11, 4, 0, tzinfo=datetime.UTC) + datetime.timedelta(
        minutes=n
    )
    dp_id = values.pop("dp_id", f"FORS2.{stamp:%Y-%m-%dT%H:%M:%S}.{n:03d}")
    defaults: dict[str, Any] = {
        "dp_id": dp_id,
        "arcfile": f"{dp_id}.fits",
        "category": category,
        "instrument_name": "FORS2",
        "telescope_name": "UT1",
        "object_name": "NGC 253" if category != Category.CALIB else "",
        "ra_deg": 11.888 if category != Category.CALIB else None,
        "dec_deg": -25.288 if category != Category.CALIB else None,
        "date_obs": stamp,
        "t_min": 61475.17,
        "t_max": 61475.18,
        "exptime_s": 600.0,
        "prog_id": f"{proposal.programme_id}(A)" if proposal else "",
        "proposal": proposal,
        "sha256": "0" * 64,
        "size_bytes": 0,
        "storage_path": f"files/{stamp:%Y-%m-%d}/{dp_id}.fits",
        "header_text": "",
        "release_date": release_date
        or (
            datetime.date.today()
            if category == Category.CALIB
            else datetime.date.today() + datetime.timedelta(days=365)
        ),
    }
    defaults.update(values)
    archive_file = ArchiveFile.objects.create(**defaults)
    if write:
        write_fits(archive_file)
    return archive_file


def write_fits(archive_file: ArchiveFile) -> Path:
    """A small FITS frame for ``archive_file`` in archive storage; the row gets its sha256,
    size and header text."""
    header = fits.Header()
    header["ARCFILE"] = archive_file.arcfile
    header["OBJECT"] = archive_file.object_name
    header["INSTRUME"] = archive_file.instrument_name
    data = np.arange(64, dtype=np.int16).reshape(8, 8) + archive_file.pk
    hdu = fits.PrimaryHDU(data=data, header=header)
    path = Path(settings.ARCHIVE_ROOT) / archive_file.storage_path
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, overwrite=True, checksum=True)
    content = path.read_bytes()
    ArchiveFile.objects.filter(pk=archive_file.pk).update(
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        header_text=hdu.header.tostring(),
    )
    archive_file.refresh_from_db()
    return path
