"""Phase 1 verification: errors block submission, warnings do not.

Checks completeness, the instrument offered on that telescope and mode, positive time, whole
VM nights, and that every target of a run reaches the run's airmass limit during astronomical
night from the site on some night of the period (saying which target fails and when it is best
observable).
"""

from dataclasses import dataclass, field

import numpy as np

from dataflow.astro.visibility import nightly_visibility
from proposals.models import Mode, ObservingRun, Proposal

VISIBILITY_STEP_MINUTES = 20.0


@dataclass(frozen=True)
class Finding:
    where: str  # "proposal", "title", "run A", "run A / NGC 253" ...
    message: str


@dataclass
class VerificationReport:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        return {
            "errors": [{"where": f.where, "message": f.message} for f in self.errors],
            "warnings": [{"where": f.where, "message": f.message} for f in self.warnings],
        }


def verify_proposal(proposal: Proposal) -> VerificationReport:
    """Verify a proposal and its runs; reads the database, writes nothing."""
    report = VerificationReport()
    _check_completeness(proposal, report)
    runs = list(
        proposal.runs.select_related("telescope__site", "instrument").prefetch_related("targets")
    )
    if not runs:
        report.errors.append(Finding("runs", "The proposal has no observing run."))
    for run in runs:
        _check_run(proposal, run, report)
    return report


def _check_completeness(proposal: Proposal, report: VerificationReport) -> None:
    required = {
        "title": "a title",
        "abstract": "an abstract",
        "category": "a category",
        "scientific_justification": "a scientific justification",
    }
    for name, label in required.items():
        if not str(getattr(proposal, name) or "").strip():
            report.errors.append(Finding(name, f"The proposal needs {label}."))
    if not proposal.targets.exists():
        report.errors.append(Finding("targets", "The proposal has no target."))
    if len(proposal.abstract or "") > 2000:
        report.warnings.append(Finding("abstract", "The abstract is longer than 2,000 characters."))
    for coi in proposal.coinvestigators.filter(user__isnull=True):
        report.warnings.append(
            Finding("coinvestigators", f"{coi.email} has not accepted the invitation yet.")
        )


def _check_run(proposal: Proposal, run: ObservingRun, report: VerificationReport) -> None:
    where = f"run {run.letter}"
    if run.instrument.telescope_id != run.telescope_id:
        report.errors.append(
            Finding(where, f"{run.instrument.name} is not mounted on {run.telescope.name}.")
        )
    if not run.instrument.offered_in(run.mode):
        report.errors.append(
            Finding(
                where, f"{run.instrument.name} is not offered in {run.get_mode_display().lower()}."
            )
        )
    if run.mode == Mode.VM:
        if run.nights is None or run.nights <= 0:
            report.errors.append(
                Finding(where, "A visitor-mode run needs a positive number of nights.")
            )
        elif run.nights != int(run.nights):
            report.errors.append(
                Finding(where, f"Visitor-mode runs are given whole nights, not {run.nights:g}.")
            )
    elif run.hours is None or run.hours <= 0:
        report.errors.append(Finding(where, "A service-mode run needs a positive number of hours."))
    targets = list(run.targets.all())
    if not targets:
        report.errors.append(Finding(where, "The run has no target."))
        return
    _check_visibility(proposal, run, targets, report)


def _check_visibility(
    proposal: Proposal, run: ObservingRun, targets: list, report: VerificationReport
) -> None:
    period = proposal.period
    vis = nightly_visibility(
        run.telescope.site.as_astro(),
        np.array([t.ra_deg for t in targets]),
        np.array([t.dec_deg for t in targets]),
        period.start,
        period.end,
        max_airmass=run.max_airmass,
        step_minutes=VISIBILITY_STEP_MINUTES,
    )
    for i, target in enumerate(targets):
        if vis.hours[i].max(initial=0.0) > 0:
            continue
        best_airmass = float(np.min(vis.min_airmass[i])) if vis.min_airmass.size else float("inf")
        best_night = (
            vis.dates[int(np.argmin(vis.min_airmass[i]))] if np.isfinite(best_airmass) else None
        )
        if best_night is None:
            detail = "it never rises above the horizon during astronomical night in the period"
        else:
            detail = (
                f"it is best observable on the night of {best_night:%Y-%m-%d}, "
                f"at airmass {best_airmass:.2f}"
            )
        report.errors.append(
            Finding(
                f"run {run.letter} / {target.name}",
                f"{target.name} never reaches airmass {run.max_airmass:g} during astronomical "
                f"night from {run.telescope.site.name} in {period}: {detail}.",
            )
        )
