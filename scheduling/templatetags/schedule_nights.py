"""``{% team_nights proposal as nights %}``: a proposal's accepted VM nights for its page
(the page's view looked the proposal up through its visibility rules)."""

from django import template

from dataflow.permissions import AnyUser, is_investigator
from proposals.models import ObservingRun, Proposal
from scheduling import selectors
from scheduling.models import RunNight

register = template.Library()


@register.simple_tag
def team_nights(proposal: Proposal) -> list[RunNight]:
    return list(selectors.team_nights(proposal))


@register.simple_tag
def runs_of_nights(nights: list[RunNight]) -> list[ObservingRun]:
    """The distinct runs of some nights, in the order of their first night (for the travel
    links of the proposal page)."""
    runs: dict[int, ObservingRun] = {}
    for night in nights:
        runs.setdefault(night.run_id, night.run)
    return list(runs.values())


@register.simple_tag
def on_team(proposal: Proposal, user: AnyUser) -> bool:
    """The PI or an accepted co-investigator (staff who are not on the team file no travel)."""
    return is_investigator(user, proposal)
