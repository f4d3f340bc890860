"""Who may read which archived file, decided at the time of asking.

A science (or acquisition) file or product is proprietary until its release date: its
programme's PI, the accepted co-investigators, the delegates the PI named and staff may read
it before; everyone may read it from that day on. Calibrations are released on the day they
are ingested. Headers and metadata (search results, the header view, ObsCore rows) are public
as at ESO unless ``settings.ARCHIVE_HEADERS_PUBLIC`` is off, in which case they follow the file.

The search pages, the download views, the VO services and the upload API all call these, so
they cannot disagree.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from archive.models import ArchiveFile, Category
from dataflow.permissions import AnyUser, is_staff_member


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_month = datetime.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - datetime.timedelta(days=1)).day
    return datetime.date(year, month, min(day.day, last_day))


def proprietary_months(proposal_type: str | None) -> int:
    """The proprietary period of a programme of this type (``ARCHIVE_PROPRIETARY_MONTHS``)."""
    table: dict[str, int] = settings.ARCHIVE_PROPRIETARY_MONTHS
    return table.get(proposal_type or "default", table["default"])


def release_date(
    *, category: str, proposal_type: str | None, ingested_on: datetime.date
) -> datetime.date:
    """The first day a file is public: calibrations at once, the rest after the period."""
    if category == Category.CALIB:
        return ingested_on
    return add_months(ingested_on, proprietary_months(proposal_type))


def today() -> datetime.date:
    return timezone.localdate()


def is_public(archive_file: ArchiveFile, *, on: datetime.date | None = None) -> bool:
    return archive_file.release_date <= (on or today())


def privileged_q(user: AnyUser) -> Q:
    """The files ``user`` may read while they are proprietary (nothing for anonymous)."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return (
        Q(proposal__pi=user)
        | Q(proposal__coinvestigators__user=user)
        | Q(proposal__data_delegates__user=user)
    )


def readable_q(user: AnyUser, *, on: datetime.date | None = None) -> Q | None:
    """A filter of the files ``user`` may download now; ``None`` means every file (staff).
    Joins through investigators may repeat a row: callers add ``.distinct()`` or use
    :func:`readable_files`."""
    if is_staff_member(user):
        return None
    return Q(release_date__lte=on or today()) | privileged_q(user)


def readable_files(user: AnyUser, *, on: datetime.date | None = None) -> QuerySet[ArchiveFile]:
    """The files ``user`` may download now."""
    condition = readable_q(user, on=on)
    files = ArchiveFile.objects.all()
    if condition is None:
        return files
    # A subquery of ids keeps the joins from repeating rows in the caller's query.
    return files.filter(pk__in=ArchiveFile.objects.filter(condition).values("pk"))


def visible_files(user: AnyUser, *, on: datetime.date | None = None) -> QuerySet[ArchiveFile]:
    """The files whose metadata ``user`` may see (every file when headers are public)."""
    if settings.ARCHIVE_HEADERS_PUBLIC:
        return ArchiveFile.objects.all()
    return readable_files(user, on=on)


def may_download(
    user: AnyUser, archive_file: ArchiveFile, *, on: datetime.date | None = None
) -> bool:
    """Decided at download time: public files for everyone, proprietary ones for the privileged."""
    if is_public(archive_file, on=on) or is_staff_member(user):
        return True
    if not user.is_authenticated or archive_file.proposal_id is None:
        return False
    return ArchiveFile.objects.filter(privileged_q(user), pk=archive_file.pk).exists()


def may_name_delegates(user: AnyUser, proposal_pi_id: int) -> bool:
    """Only the PI names (and removes) the delegates of a programme's data."""
    return user.is_authenticated and user.pk == proposal_pi_id
