"""A run's targets over the period, drawn: shared by the verify page and the PDF."""

import numpy as np

from dataflow.astro.plot import visibility_plot_png
from dataflow.astro.visibility import nightly_visibility
from proposals.models import ObservingRun

PLOT_STEP_MINUTES = 30.0


def run_visibility_png(run: ObservingRun) -> bytes | None:
    """PNG of the hours each target of the run spends below its airmass limit per night."""
    targets = list(run.targets.all())
    if not targets:
        return None
    period = run.proposal.period
    vis = nightly_visibility(
        run.telescope.site.as_astro(),
        np.array([t.ra_deg for t in targets]),
        np.array([t.dec_deg for t in targets]),
        period.start,
        period.end,
        max_airmass=run.max_airmass,
        step_minutes=PLOT_STEP_MINUTES,
    )
    title = f"Run {run.letter}: hours below airmass {run.max_airmass:g} per night, {period}"
    return visibility_plot_png(vis, [t.name for t in targets], title)
