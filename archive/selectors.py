"""Reads of the archive for the search pages and the search API: files by position (coordinates,
or a target name resolved from the archive's own records), time, instrument, programme, object
and category; a file for its page; the basket; a user's download requests; a PI's delegates.

Every read starts from :mod:`archive.access` (``visible_files`` for metadata, ``readable_files``
for bytes), so the pages, the API and the VO services cannot disagree about who sees what.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, F, Min, Q, QuerySet
from django.http import Http404

from archive import access
from archive.cone import cone
from archive.models import ArchiveFile, BasketItem, DataDelegate, DownloadRequest
from dataflow.errors import InvalidInput
from dataflow.permissions import AnyUser
from proposals.models import Proposal

# A search cone wider than this is no cone search any more (and defeats the index).
MAX_RADIUS_ARCMIN = 600.0
DEFAULT_RADIUS_ARCMIN = 6.0


@dataclass(frozen=True)
class SearchQuery:
    """What the search form and the search API ask for; blank fields do not filter."""

    ra_deg: float | None = None
    dec_deg: float | None = None
    target: str = ""  # resolved from the archive's object names when no coordinates are given
    radius_arcmin: float = DEFAULT_RADIUS_ARCMIN
    date_from: datetime.date | None = None  # observed on or after (UTC date)
    date_to: datetime.date | None = None  # observed on or before (UTC date)
    instrument: str = ""
    programme: str = ""  # a prefix of the programme id: "118.C-0003" finds all its runs
    object_name: str = ""  # a part of the OBJECT keyword
    category: str = ""


@dataclass(frozen=True)
class Position:
    ra_deg: float
    dec_deg: float
    source: str  # "coordinates" or the target name it was resolved from


def resolve_target(name: str) -> Position | None:
    """The position of a target from the archive's own records: the latest pointed file whose
    OBJECT is ``name`` (case-insensitive). No name resolver on the network (astropy must not
    download), so only names the archive has seen are known."""
    found = (
        ArchiveFile.objects.filter(object_name__iexact=name.strip(), ra_deg__isnull=False)
        .exclude(dec_deg__isnull=True)
        .order_by("-date_obs", "pk")
        .values_list("ra_deg", "dec_deg")
        .first()
    )
    if found is None:
        return None
    ra, dec = found
    assert ra is not None and dec is not None  # filtered above
    return Position(ra, dec, name.strip())


def search_position(query: SearchQuery) -> Position | None:
    """The cone's centre, or None for a search without a position; an unknown target name is
    refused on the ``target`` field."""
    if query.ra_deg is not None and query.dec_deg is not None:
        return Position(query.ra_deg, query.dec_deg, "coordinates")
    if query.target.strip():
        position = resolve_target(query.target)
        if position is None:
            raise InvalidInput(
                "Unknown target.",
                {"target": [f"No file in the archive has the target '{query.target[:80]}'."]},
            )
        return position
    return None


def search_files(user: AnyUser, query: SearchQuery) -> QuerySet[ArchiveFile]:
    """The files ``user`` may see that match ``query``: nearest first for a cone, else the
    newest first. Annotated with ``distance_deg`` and ``distance_arcmin`` for a cone."""
    files = access.visible_files(user)
    if query.date_from is not None:
        files = files.filter(date_obs__date__gte=query.date_from)
    if query.date_to is not None:
        files = files.filter(date_obs__date__lte=query.date_to)
    if query.instrument:
        files = files.filter(instrument_name__iexact=query.instrument)
    if query.programme:
        files = files.filter(prog_id__istartswith=query.programme.strip())
    if query.object_name:
        files = files.filter(object_name__icontains=query.object_name.strip())
    if query.category:
        files = files.filter(category=query.category)
    position = search_position(query)
    if position is None:
        return files.order_by("-date_obs", "dp_id")
    radius_deg = query.radius_arcmin / 60.0
    return (
        cone(files, position.ra_deg, position.dec_deg, radius_deg)
        .annotate(distance_arcmin=F("distance_deg") * 60.0)
        .order_by("distance_deg", "-date_obs", "dp_id")
    )


def instrument_names() -> list[str]:
    """The instruments the archive holds files of, for the search form's choices."""
    names = ArchiveFile.objects.values_list("instrument_name", flat=True).distinct()
    return sorted(set(names))


def file_for_user(user: AnyUser, pk: int) -> ArchiveFile:
    """A file whose metadata ``user`` may see, else 404 (an unknown id looks the same)."""
    found = (
        access.visible_files(user)
        .select_related("proposal", "run", "ob", "execution")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404("No such file in the archive.")
    return found


def header_cards(header_text: str) -> list[str]:
    """A stored header as its cards, one a line: FITS text is 80-character cards without line
    breaks (astropy's ``Header.tostring()``); text with line breaks is split on them."""
    if "\n" in header_text:
        return header_text.splitlines()
    return [header_text[i : i + 80].rstrip() for i in range(0, len(header_text), 80)]


def readable_ids(user: AnyUser, pks: list[int]) -> set[int]:
    """Which of ``pks`` ``user`` may download now (one query for a page of results)."""
    return set(access.readable_files(user).filter(pk__in=pks).values_list("pk", flat=True))


def basket_files(user: User) -> QuerySet[ArchiveFile]:
    """The files in ``user``'s basket, in the order they were added."""
    return ArchiveFile.objects.filter(
        pk__in=BasketItem.objects.filter(user=user).values("archive_file")
    ).order_by("dp_id")


def basket_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(BasketItem.objects.filter(user=user).values_list("archive_file_id", flat=True))


def user_requests(user: User) -> QuerySet[DownloadRequest]:
    """``user``'s download requests, the newest first (nobody sees another's)."""
    return DownloadRequest.objects.filter(user=user).annotate(file_count=Count("files"))


def request_for_user(user: User, pk: int) -> DownloadRequest:
    found = DownloadRequest.objects.filter(user=user, pk=pk).first()
    if found is None:
        raise Http404("No such download request.")
    return found


def delegated_proposals(user: AnyUser) -> QuerySet[Proposal]:
    """The programmes ``user`` is PI of (those with a programme id): where they name
    delegates, also before any data arrive."""
    if not user.is_authenticated:
        return Proposal.objects.none()
    return (
        Proposal.objects.filter(pi=user, programme_id__isnull=False)
        .exclude(programme_id="")
        .order_by("-programme_id")
    )


def delegates_of(proposal: Proposal) -> QuerySet[DataDelegate]:
    return DataDelegate.objects.filter(proposal=proposal).select_related("user").order_by("pk")


@dataclass(frozen=True)
class ArchiveSummary:
    """The astronomer's home card: their programmes' files."""

    total: int
    proprietary: int
    next_release: datetime.date | None


def archive_summary(user: AnyUser) -> ArchiveSummary:
    """How many files of the programmes ``user`` is privileged on, how many of them are still
    proprietary, and the next release date (one query)."""
    if not user.is_authenticated:
        return ArchiveSummary(0, 0, None)
    closed = Q(release_date__gt=access.today())
    found = ArchiveFile.objects.filter(
        pk__in=ArchiveFile.objects.filter(access.privileged_q(user)).values("pk")
    ).aggregate(
        total=Count("pk"),
        proprietary=Count("pk", filter=closed),
        next_release=Min("release_date", filter=closed),
    )
    return ArchiveSummary(found["total"], found["proprietary"], found["next_release"])
