"""The ingestion's database work per file, pinned: a batch's frames share their run, OB and
instrument lookups."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive import landing
from archive.models import ArchiveFile
from tests.archive.conftest import ArchiveWorld
from tests.archive.frames import execution_frames, land

#: The ARCFILE's row, the file's row, its event, its transfer; savepoints and PostgreSQL's
#: advisory lock aside.
QUERIES_PER_FILE = 4
#: The batch's transfers read and marked; the instrument, the run and the OB looked up once,
#: the execution once per execution.
QUERIES_PER_BATCH = 6


def test_a_batch_costs_a_fixed_number_of_queries_per_file(
    world: ArchiveWorld, django_capture_on_commit_callbacks
) -> None:
    # given ten frames of one execution, scanned
    frames = execution_frames(run_id=world.run_id, ob_id=world.ob.pk, science_exposures=(5.0,) * 9)
    for frame in frames:
        land(world.landing, frame)
    ids = landing.landing_scan(queue=False)
    # when the batch is ingested
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        results = landing.transfers_ingest(transfer_ids=ids)
    # then
    assert [r.outcome for r in results] == ["ingested"] * len(frames)
    assert ArchiveFile.objects.count() == len(frames)
    work = [
        q["sql"][:90]
        for q in queries.captured_queries
        if "SAVEPOINT" not in q["sql"] and "pg_advisory" not in q["sql"]
    ]
    assert len(work) == QUERIES_PER_BATCH + QUERIES_PER_FILE * len(frames), "\n".join(work)
