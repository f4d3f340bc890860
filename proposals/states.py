from dataflow.states import TransitionTable
from proposals.models import ProposalStatus as S

PROPOSAL_TRANSITIONS = TransitionTable(
    "proposal",
    {
        S.DRAFT: [S.SUBMITTED],
        S.SUBMITTED: [S.UNDER_REVIEW, S.WITHDRAWN],
        S.UNDER_REVIEW: [S.APPROVED, S.REJECTED],
    },
)
