"""The proposal PDF: a plain context rendered by a template into WeasyPrint bytes."""

import base64
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from proposals.coordinates import format_dec, format_ra
from proposals.models import Proposal
from proposals.visibility import run_visibility_png


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _visibility_plot(run: Any) -> str | None:
    png = run_visibility_png(run)
    return _data_uri(png, "image/png") if png else None


def proposal_pdf_context(proposal: Proposal) -> dict[str, Any]:
    """Everything the PDF shows, as plain values."""
    investigators = [
        {
            "role": "PI",
            "name": proposal.pi.get_full_name() or proposal.pi.username,
            "email": proposal.pi.email,
            "institute": getattr(getattr(proposal.pi, "profile", None), "institute", ""),
        }
    ]
    for coi in proposal.coinvestigators.select_related("user__profile"):
        user = coi.user
        investigators.append(
            {
                "role": "Co-I" if user else "Co-I (invited)",
                "name": (user.get_full_name() or user.username) if user else "",
                "email": coi.email,
                "institute": getattr(getattr(user, "profile", None), "institute", "")
                if user
                else "",
            }
        )
    targets = [
        {
            "name": t.name,
            "ra": format_ra(t.ra_deg),
            "dec": format_dec(t.dec_deg),
            "magnitude": t.magnitude,
            "pm": (t.pm_ra_mas_yr, t.pm_dec_mas_yr),
        }
        for t in proposal.targets.all()
    ]
    runs = []
    for run in proposal.runs.select_related("telescope__site", "instrument").prefetch_related(
        "targets"
    ):
        runs.append(
            {
                "label": f"{proposal.programme_id}({run.letter})"
                if proposal.programme_id
                else f"({run.letter})",
                "run": run,
                "targets": ", ".join(t.name for t in run.targets.all()),
                "plot": _visibility_plot(run),
            }
        )
    figures = []
    for fig in proposal.figures.all():
        with fig.image.open("rb") as fh:
            figures.append(
                {"src": _data_uri(fh.read(), f"image/{fig.image_format}"), "caption": fig.caption}
            )
    return {
        "proposal": proposal,
        "investigators": investigators,
        "targets": targets,
        "runs": runs,
        "figures": figures,
        "rendered_at": timezone.now(),
    }


def render_proposal_pdf(proposal_id: int) -> bytes:
    """Render the whole proposal to PDF bytes (what the author checks and what is archived)."""
    from weasyprint import HTML

    proposal = Proposal.objects.select_related("period", "pi__profile").get(pk=proposal_id)
    html = render_to_string("proposals/pdf.html", proposal_pdf_context(proposal))
    return HTML(string=html).write_pdf()
