"""Celery tasks of the long-term schedule: take ids, call one service, idempotent."""

from dataflow.celery import app
from scheduling.services import job_run


@app.task(acks_late=False)
def solve_schedule(job_id: int) -> str:
    """Solve a queued schedule job; a job already running, done, failed or cancelled is left
    alone (a redelivered message does not solve twice). Not acknowledged late: a worker lost
    mid-solve leaves the job ``running`` for staff to see, rather than solving it again."""
    return job_run(job_id=job_id).status
