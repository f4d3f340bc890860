"""TAP's asynchronous jobs run here: the task takes the job's id and calls the service."""

from dataflow.celery import app

__all__ = ["tap_job_run"]


@app.task(acks_late=False)
def tap_job_run(job_id: str, base_url: str) -> None:
    """Run a queued TAP job (idempotent: a job not QUEUED is left as it is)."""
    from archive.vo.services import tap_job_execute

    tap_job_execute(job_id=job_id, base_url=base_url)
