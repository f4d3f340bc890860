"""Celery tasks of review and allocation: take IDs, call one service, idempotent. Celery finds
them through ``proposals.tasks``, which imports this module (autodiscovery looks at apps only)."""

from dataflow.celery import app
from proposals.review.outcome import send_outcome


@app.task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_outcome_letter(self, proposal_id: int) -> bool:  # type: ignore[no-untyped-def]
    """E-mail the outcome letter of a decided proposal (once: a second run sends nothing)."""
    self.update_state(state="PROGRESS", meta={"step": "sending", "proposal_id": proposal_id})
    return send_outcome(proposal_id=proposal_id)
