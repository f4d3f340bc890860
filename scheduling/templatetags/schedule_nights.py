"""``{% team_nights proposal as nights %}``: a proposal's accepted VM nights for its page
(the page's view looked the proposal up through its visibility rules)."""

from django import template

from proposals.models import Proposal
from scheduling import selectors
from scheduling.models import RunNight

register = template.Library()


@register.simple_tag
def team_nights(proposal: Proposal) -> list[RunNight]:
    return list(selectors.team_nights(proposal))
