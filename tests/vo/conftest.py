"""A small archive for the VO tests: three frames near (10°, −20°) with their files in storage,
one public, one proprietary of the PI's programme, one proprietary of someone else's; astropy
kept offline with the DataLink vocabulary seeded from pyvo's test data."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pyvo  # type: ignore[import-untyped]
import requests
from astropy.config import paths
from astropy.utils import data as astropy_data
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from archive.models import ArchiveFile, Category
from proposals.models import Proposal
from tests.factories import PeriodFactory, UserFactory, complete_proposal

DATALINK_VOCABULARY = "http://www.ivoa.net/rdf/datalink/core"
RA, DEC = 10.0, -20.0


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TAP needs DATABASE_URL=postgres://... (pgSphere, ivoa.obscore)")


@pytest.fixture(scope="session", autouse=True)
def _astropy_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pyvo's DataLink lookups read the vocabulary from astropy's cache: seeded here, in a
    cache of the session's own, with downloads forbidden."""
    cache = tmp_path_factory.mktemp("astropy-cache")
    source = Path(pyvo.__file__).parent / "dal" / "tests" / "data" / "datalink" / "datalink.desise"
    with paths.set_temp_cache(cache), astropy_data.conf.set_temp("allow_internet", False):
        astropy_data.import_file_to_cache(DATALINK_VOCABULARY, str(source))
        yield


@dataclass(frozen=True)
class VoWorld:
    pi: User
    token: str
    public: ArchiveFile
    mine: ArchiveFile
    theirs: ArchiveFile

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session


def fits_bytes(label: str) -> bytes:
    card = f"SIMPLE  =                    T / {label}".ljust(80) + "END".ljust(80)
    return card.encode().ljust(2880, b" ")


def archive_file(
    dp_id: str, *, ra: float, dec: float, category: str, proposal: Proposal | None, public: bool
) -> ArchiveFile:
    content = fits_bytes(dp_id)
    storage_path = f"files/test/{dp_id}.fits"
    path = Path(settings.ARCHIVE_ROOT) / storage_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    today = datetime.date.today()
    return ArchiveFile.objects.create(
        dp_id=dp_id,
        arcfile=f"{dp_id}.fits",
        category=category,
        instrument_name="FORS2",
        telescope_name="ESO-VLT-U1",
        object_name="NGC 253" if category == Category.SCIENCE else "",
        ra_deg=ra,
        dec_deg=dec,
        fov_deg=0.1,
        footprint=[
            [ra - 0.05, dec - 0.05],
            [ra + 0.05, dec - 0.05],
            [ra + 0.05, dec + 0.05],
            [ra - 0.05, dec + 0.05],
        ],  # fmt: skip
        date_obs=datetime.datetime(2027, 3, 11, 4, 5, 6, tzinfo=datetime.UTC),
        t_min=61475.17,
        t_max=61475.18,
        exptime_s=600,
        prog_id=f"{proposal.programme_id}(A)" if proposal else "",
        proposal=proposal,
        sha256="0" * 64,
        size_bytes=len(content),
        storage_path=storage_path,
        header_text="SIMPLE  =                    T",
        release_date=today - datetime.timedelta(days=1)
        if public
        else today + datetime.timedelta(days=365),
    )


@pytest.fixture
def vo_world(transactional_db: None) -> VoWorld:
    period = PeriodFactory.create()
    pi = UserFactory.create(username="vo-pi")
    someone = UserFactory.create(username="vo-someone")
    mine = complete_proposal(pi=pi, period=period, title="Mine")
    theirs = complete_proposal(pi=someone, period=period, title="Theirs")
    Proposal.objects.filter(pk=mine.pk).update(programme_id="120.C-0001")
    Proposal.objects.filter(pk=theirs.pk).update(programme_id="120.C-0002")
    mine.refresh_from_db()
    theirs.refresh_from_db()
    token = Token.objects.create(user=pi).key
    return VoWorld(
        pi=pi,
        token=token,
        public=archive_file("FORS2.2027-03-11T04:00:00.000", ra=RA, dec=DEC,
                            category=Category.CALIB, proposal=None, public=True),
        mine=archive_file("FORS2.2027-03-11T04:05:06.789", ra=RA + 0.01, dec=DEC + 0.01,
                          category=Category.SCIENCE, proposal=mine, public=False),
        theirs=archive_file("FORS2.2027-03-11T05:00:00.000", ra=RA - 0.01, dec=DEC,
                            category=Category.SCIENCE, proposal=theirs, public=False),
    )  # fmt: skip


def ids(results: object, column: str = "obs_id") -> set[str]:
    table = results.to_table()  # type: ignore[attr-defined]
    return {str(v) for v in table[column]}
