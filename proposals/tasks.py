"""Celery tasks of Phase 1: take IDs, call one service, idempotent."""

from dataflow.celery import app
from proposals.review import tasks as review_tasks  # noqa: F401  (Celery finds them here)
from proposals.services import proposal_store_final_pdf


@app.task(bind=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def render_final_pdf(self, proposal_id: int) -> str:  # type: ignore[no-untyped-def]
    """Render, store and e-mail the final PDF of a submitted proposal."""
    self.update_state(state="PROGRESS", meta={"step": "rendering", "proposal_id": proposal_id})
    proposal = proposal_store_final_pdf(proposal_id=proposal_id)
    return proposal.final_pdf.name
