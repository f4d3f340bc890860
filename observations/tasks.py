"""Celery tasks of the night: raw frames written to the landing area (``observations.rawdata``).

Both take ids, call one writer and are idempotent: the writer keeps a manifest per execution
(and per telescope, night and instrument for calibrations), so a redelivered message returns
the frames already written and writes nothing. Queued on commit by ``observations.night``
(``visit_complete``: each graded execution's frames; ``night_close``: the night's
calibrations). A full or unreachable disk (``OSError``) is retried; a refusal
(``RawDataRefused``: not completed, or another file under one of the names) is not.

Once frames have landed, the archive's scan of the landing area is queued
(``archive.tasks_ingest.scan_landing``), which ingests them: the night's data reach the
archive without anyone starting it.
"""

import datetime as dt

from archive.tasks_ingest import scan_landing
from dataflow.celery import app
from observations import rawdata


@app.task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def write_frames(self, execution_id: int) -> int:  # type: ignore[no-untyped-def]
    """Write a graded execution's raw frames; how many it has."""
    self.update_state(state="PROGRESS", meta={"step": "frames", "execution_id": execution_id})
    written = len(rawdata.write_execution_frames(execution_id=execution_id))
    scan_landing.delay()
    return written


@app.task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def write_calibrations(self, telescope_id: int, night: str) -> int:  # type: ignore[no-untyped-def]
    """Write a telescope's calibration frames of ``night`` (ISO date); how many it has."""
    self.update_state(state="PROGRESS", meta={"step": "calibrations", "telescope_id": telescope_id})
    paths = rawdata.write_night_calibrations(
        telescope_id=telescope_id, night=dt.date.fromisoformat(night)
    )
    scan_landing.delay()
    return len(paths)
