"""Conflicts of interest between reviewers and proposals, detected from the data.

A reviewer is conflicted with a proposal when they are its PI or an accepted co-investigator,
when they share an institute with one of its investigators (names compared after folding case,
accents and punctuation: "Universität Zürich" = "Universitat Zurich"), or, where the period's
review setup says so, when they are PI of a competing proposal in the same pool.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from proposals.review.models import ConflictKind

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_institute(name: str) -> str:
    """Fold case, accents and punctuation: ``"Universität Zürich!"`` -> ``"universitat zurich"``."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", bare).strip()


@dataclass(frozen=True)
class Team:
    """What conflict detection needs of a proposal."""

    proposal_id: int
    pi_id: int
    coi_ids: frozenset[int]
    institutes: frozenset[str]  # normalised, of the PI and the accepted co-investigators


@dataclass(frozen=True)
class Found:
    proposal_id: int
    reviewer_id: int
    kind: ConflictKind
    reason: str


def detect(
    teams: Iterable[Team],
    reviewers: dict[int, str],
    *,
    competing: bool,
) -> list[Found]:
    """Every conflict of ``reviewers`` (user id -> institute) with the proposals of ``teams``
    (one pool: a panel's category or the distributed pool)."""
    teams = list(teams)
    pis_in_pool = {t.pi_id: t.proposal_id for t in teams}
    found: list[Found] = []
    for reviewer_id, institute in reviewers.items():
        own_institute = normalise_institute(institute) if institute else ""
        for team in teams:
            if reviewer_id == team.pi_id:
                found.append(Found(team.proposal_id, reviewer_id, ConflictKind.PI, "PI"))
                continue
            if reviewer_id in team.coi_ids:
                found.append(
                    Found(team.proposal_id, reviewer_id, ConflictKind.COI, "co-investigator")
                )
                continue
            if own_institute and own_institute in team.institutes:
                found.append(
                    Found(
                        team.proposal_id,
                        reviewer_id,
                        ConflictKind.INSTITUTE,
                        f"same institute as an investigator ({institute})",
                    )
                )
                continue
            if competing and reviewer_id in pis_in_pool:
                found.append(
                    Found(
                        team.proposal_id,
                        reviewer_id,
                        ConflictKind.COMPETING,
                        "PI of a competing proposal in the same pool",
                    )
                )
    return found
