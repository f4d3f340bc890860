"""The VO services driven by the real pyvo against the live server: cone search and SIA on any
database; TAP (sync, async), DataLink and the download on PostgreSQL. Anonymous clients see
public rows only; the PI's token (a requests.Session) also sees and downloads theirs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests
from astropy.time import Time
from pyvo.dal import SCSService, SIA2Service, TAPService  # type: ignore[import-untyped]
from pyvo.dal.exceptions import DALQueryError  # type: ignore[import-untyped]

from archive.vo import tap as tap_views
from tests.vo.conftest import DEC, RA, VoWorld, fits_bytes, ids, needs_postgresql

CONE = (
    "SELECT obs_id, s_ra, s_dec, access_url, access_format FROM ivoa.obscore "
    f"WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {RA}, {DEC}, 0.1)) = 1"
)


def mjd(start: float, end: float) -> tuple[Time, Time]:
    return Time(start, format="mjd"), Time(end, format="mjd")


def test_cone_search_shows_anonymous_only_public_rows(live_server: Any, vo_world: VoWorld) -> None:
    # given
    service = SCSService(f"{live_server.url}/vo/scs")
    # when
    results = service.search(pos=(RA, DEC), radius=0.1)
    # then
    assert ids(results) == {vo_world.public.dp_id}
    assert results[0].pos is not None  # pyvo found the UCD1 position columns


def test_cone_search_with_the_pis_token_adds_their_proprietary_row(
    live_server: Any, vo_world: VoWorld
) -> None:
    # given
    service = SCSService(f"{live_server.url}/vo/scs", session=vo_world.session())
    # when
    results = service.search(pos=(RA, DEC), radius=0.1)
    # then
    assert ids(results) == {vo_world.public.dp_id, vo_world.mine.dp_id}


def test_cone_search_outside_the_files_finds_nothing(live_server: Any, vo_world: VoWorld) -> None:
    results = SCSService(f"{live_server.url}/vo/scs").search(pos=(RA + 1, DEC), radius=0.1)
    assert len(results) == 0


def test_sia2_search_by_circle_and_time(live_server: Any, vo_world: VoWorld) -> None:
    # given
    anonymous = SIA2Service(f"{live_server.url}/vo/sia")
    with_token = SIA2Service(f"{live_server.url}/vo/sia", session=vo_world.session())
    # when
    public = anonymous.search(pos=(RA, DEC, 0.1), time=mjd(61475.0, 61476.0), instrument="FORS2")
    mine = with_token.search(pos=(RA, DEC, 0.1), time=mjd(61475.0, 61476.0))
    elsewhere = with_token.search(pos=(RA, DEC, 0.1), time=mjd(61400.0, 61401.0))
    # then
    assert ids(public) == {vo_world.public.dp_id}
    assert ids(mine) == {vo_world.public.dp_id, vo_world.mine.dp_id}
    assert len(elsewhere) == 0
    assert str(public[0]["obs_publisher_did"]).endswith(vo_world.public.dp_id)


def test_sia2_polygon_and_maxrec_overflow(live_server: Any, vo_world: VoWorld) -> None:
    # given: a polygon around the frames (the PI sees two)
    service = SIA2Service(f"{live_server.url}/vo/sia", session=vo_world.session())
    box = (RA - 0.2, DEC - 0.2, RA + 0.2, DEC - 0.2, RA + 0.2, DEC + 0.2, RA - 0.2, DEC + 0.2)
    # when
    results = service.search(pos=box, maxrec=1)
    # then
    assert len(results) == 1
    assert results.status[0] == "OVERFLOW"


@pytest.mark.services
def test_tap_sync_cone_anonymous_sees_no_proprietary_row(
    live_server: Any, vo_world: VoWorld
) -> None:
    needs_postgresql()
    # when
    results = TAPService(f"{live_server.url}/vo/tap").run_sync(CONE)
    # then
    assert ids(results) == {vo_world.public.dp_id}


@pytest.mark.services
def test_tap_sync_cone_with_the_pis_token_sees_their_row(
    live_server: Any, vo_world: VoWorld
) -> None:
    needs_postgresql()
    # when
    results = TAPService(f"{live_server.url}/vo/tap", session=vo_world.session()).run_sync(CONE)
    # then
    assert ids(results) == {vo_world.public.dp_id, vo_world.mine.dp_id}


@pytest.mark.services
def test_tap_async_cone(live_server: Any, vo_world: VoWorld) -> None:
    needs_postgresql()
    # when
    service = TAPService(f"{live_server.url}/vo/tap", session=vo_world.session())
    results = service.run_async(CONE + " ORDER BY obs_id")
    # then
    assert [str(v) for v in results.to_table()["obs_id"]] == sorted(
        [vo_world.public.dp_id, vo_world.mine.dp_id]
    )


@pytest.mark.services
def test_tap_sync_flags_overflow_at_maxrec(live_server: Any, vo_world: VoWorld) -> None:
    needs_postgresql()
    results = TAPService(f"{live_server.url}/vo/tap", session=vo_world.session()).run_sync(
        CONE, maxrec=1
    )
    assert len(results) == 1
    assert results.status[0] == "OVERFLOW"


@pytest.mark.services
def test_async_job_of_malformed_adql_ends_in_error_with_the_parsers_message(
    live_server: Any, vo_world: VoWorld
) -> None:
    needs_postgresql()
    # given
    service = TAPService(f"{live_server.url}/vo/tap")
    job = service.submit_job("SELECT obs_id FROM ivoa.obscore WHERE WHERE s_ra > 3")
    # when
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=30)
    # then
    assert job.phase == "ERROR"
    with pytest.raises(DALQueryError) as error:
        job.raise_if_error()
    assert "ADQL syntax error: line 1, column 38, near 'WHERE'" in str(error.value)


@pytest.mark.services
def test_datalink_from_a_tap_row_downloads_the_pis_proprietary_file(
    live_server: Any, vo_world: VoWorld
) -> None:
    needs_postgresql()
    # given: the PI's row found through TAP with their token
    service = TAPService(f"{live_server.url}/vo/tap", session=vo_world.session())
    results = service.run_sync(CONE + f" AND obs_id = '{vo_world.mine.dp_id}'")
    record = results[0]
    # when: pyvo follows access_url (a DataLink document) to #this
    links = record.getdatalink()
    this = next(links.bysemantics("#this"))
    content = record.getdataset(timeout=30).read()
    # then
    assert this.content_type == "application/fits"
    assert content == fits_bytes(vo_world.mine.dp_id)


@pytest.mark.services
def test_anonymous_download_of_a_proprietary_file_is_refused(
    live_server: Any, vo_world: VoWorld
) -> None:
    needs_postgresql()
    url = f"{live_server.url}/vo/datalink/download/{vo_world.mine.dp_id}"
    anonymous = requests.get(url, timeout=30)
    public = requests.get(
        f"{live_server.url}/vo/datalink/download/{vo_world.public.dp_id}", timeout=30
    )
    assert anonymous.status_code == 401
    assert public.status_code == 200
    assert public.content == fits_bytes(vo_world.public.dp_id)


def test_tap_without_postgresql_answers_a_votable_error(
    live_server: Any, vo_world: VoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the server on SQLite (as under make run)
    monkeypatch.setattr(tap_views, "connection", SimpleNamespace(vendor="sqlite"))
    # when / then: pyvo raises the service's message, not an HTTP 500
    with pytest.raises(DALQueryError, match="TAP needs PostgreSQL"):
        TAPService(f"{live_server.url}/vo/tap").run_sync(CONE)
