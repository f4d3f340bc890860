"""TAP's guards and metadata: STILTS taplint finds no error, TAP_SCHEMA and the ObsCore view
say what the one column specification says, ADQL is checked and run read-only with a timeout,
jobs belong to their owner; errors come back as VOTables."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from archive.models import TapJob, TapPhase
from archive.vo import adql
from archive.vo.schema import OBSCORE_COLUMNS, tap_schema_rows
from archive.vo.votable import Field, cell
from tests.factories import UserFactory
from tests.vo.conftest import VoWorld, needs_postgresql


@pytest.mark.services
def test_taplint_reports_no_errors(live_server: Any, vo_world: VoWorld) -> None:
    needs_postgresql()
    # given
    stilts = shutil.which("stilts")
    assert stilts, "STILTS is installed by .ci/system-packages.sh"
    # when
    run = subprocess.run(
        [stilts, "taplint", f"tapurl={live_server.url}/vo/tap", "report=EW", "maxrepeat=3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # then
    totals = [line for line in run.stdout.splitlines() if line.startswith("Totals:")]
    problems = [line for line in run.stdout.splitlines() if line.startswith("E-")]
    assert totals == ["Totals: Errors: 0; Warnings: 0"], "\n".join(problems) or run.stdout[-3000:]


@pytest.mark.services
@pytest.mark.django_db
def test_tap_schema_in_the_database_is_the_specification() -> None:
    needs_postgresql()
    # given
    expected = tap_schema_rows()
    # when
    found = {}
    with connection.cursor() as cursor:
        for table in expected:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (names from the spec)
            found[table] = [tuple(row) for row in cursor.fetchall()]
    # then: a changed specification needs a migration that rebuilds TAP_SCHEMA
    assert {t: sorted(map(repr, rows)) for t, rows in found.items()} == {
        t: sorted(map(repr, rows)) for t, rows in expected.items()
    }


@pytest.mark.services
def test_obscore_view_gives_what_the_python_side_computes(vo_world: VoWorld) -> None:
    needs_postgresql()
    # given
    fields = [Field.of(c) for c in OBSCORE_COLUMNS]
    python_rows = {
        f.dp_id: [
            cell(c.value(f) if c.value else None, fl, "")
            for c, fl in zip(OBSCORE_COLUMNS, fields, strict=True)
        ]
        for f in (vo_world.public, vo_world.mine, vo_world.theirs)
    }
    # when
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('dataflow.vo_all', 'on', true)")
        cursor.execute("SELECT * FROM ivoa.obscore")
        view_rows = {
            row[3]: [cell(v, fl, "") for v, fl in zip(row, fields, strict=True)]
            for row in cursor.fetchall()
        }
    # then
    assert view_rows == python_rows


@pytest.mark.services
@pytest.mark.django_db
def test_the_view_hides_proprietary_rows_unless_told_whose(vo_world: VoWorld) -> None:
    needs_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SELECT obs_id FROM ivoa.obscore")
        assert {r[0] for r in cursor.fetchall()} == {vo_world.public.dp_id}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM public.auth_user", "Unknown table public.auth_user"),
        ("SELECT password FROM ivoa.obscore", "Unknown column password"),
        ("SELECT pg_sleep(10) FROM ivoa.obscore", "ADQL syntax error"),
        ("DELETE FROM ivoa.obscore", "syntax error"),
    ],
)
def test_adql_outside_the_allow_list_is_refused(query: str, message: str) -> None:
    with pytest.raises(adql.AdqlError, match=message):
        adql.translate(query)


def test_numbers_are_put_back_into_a_cached_translation() -> None:
    # given: two queries of one shape
    first = adql.translate("SELECT TOP 3 obs_id FROM ivoa.obscore WHERE s_ra > 12.5")
    # when
    second = adql.translate("SELECT TOP 7 obs_id FROM ivoa.obscore WHERE s_ra > .25")
    # then
    assert first.sql == "SELECT obs_id FROM ivoa.obscore WHERE s_ra > 12.5 LIMIT 3"
    assert second.sql == "SELECT obs_id FROM ivoa.obscore WHERE s_ra > .25 LIMIT 7"


@pytest.mark.services
@pytest.mark.django_db
def test_queries_run_read_only() -> None:
    needs_postgresql()
    # given: a SELECT that writes (what the allow-list would refuse, past it)
    write = adql.Translated(sql="SELECT nextval('archive_archivefile_id_seq')", sources={})
    # when / then
    with pytest.raises(adql.AdqlError, match="read-only transaction"):
        adql.run(write, user=UserFactory.create(), maxrec=10)


@pytest.mark.services
@pytest.mark.django_db
def test_queries_stop_at_the_statement_timeout() -> None:
    needs_postgresql()
    slow = adql.Translated(sql="SELECT pg_sleep(5)", sources={})
    with pytest.raises(adql.AdqlError, match="statement timeout"):
        adql.run(slow, user=UserFactory.create(), maxrec=10, timeout_ms=200)


@pytest.mark.django_db
def test_a_job_is_seen_only_by_its_owner() -> None:
    # given
    owner, other = UserFactory.create(), UserFactory.create()
    job = TapJob.objects.create(owner=owner, query="SELECT obs_id FROM ivoa.obscore")
    client = Client()
    # when
    client.force_login(other)
    theirs = client.get(f"/vo/tap/async/{job.job_id}")
    client.force_login(owner)
    mine = client.get(f"/vo/tap/async/{job.job_id}/phase")
    # then
    assert theirs.status_code == 404
    assert mine.status_code == 200
    assert mine.content == b"PENDING"


@pytest.mark.django_db
def test_async_creation_redirects_to_the_job_and_a_bad_language_ends_in_error() -> None:
    # when: a VO client posts without any CSRF token
    response = Client(enforce_csrf_checks=True).post(
        "/vo/tap/async", {"LANG": "SQL", "QUERY": "SELECT 1"}
    )
    # then
    assert response.status_code == 303
    job = TapJob.objects.get()
    assert response["Location"].endswith(f"/vo/tap/async/{job.job_id}")
    assert job.phase == TapPhase.ERROR
    assert "LANG 'SQL' is not supported" in job.error_message


@pytest.mark.django_db
def test_unknown_job_and_bad_token_are_votable_errors() -> None:
    client = Client()
    missing = client.get(f"/vo/tap/async/{uuid.uuid4()}")
    bad_token = client.get("/vo/scs?RA=1&DEC=1&SR=1", HTTP_AUTHORIZATION="Bearer nope")
    assert missing.status_code == 404
    assert b'<INFO name="QUERY_STATUS" value="ERROR">' in missing.content
    assert bad_token.status_code == 401
    assert bad_token["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_cone_search_errors_as_scs_says() -> None:
    response = Client().get("/vo/scs?RA=abc&DEC=1&SR=1")
    assert response.status_code == 200
    assert b'<INFO name="Error" value="RA, DEC and SR are required' in response.content
