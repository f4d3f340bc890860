"""The API's pagination: DRF's limit/offset with a ceiling on ``limit``.

``?limit=`` is capped at ``max_limit`` (500): without a ceiling a 20-digit limit reached the
database as a slice bound, an OverflowError on SQLite and a DataError on PostgreSQL (a 500).
Negative, empty or non-numeric values of ``limit`` and ``offset`` fall back to the defaults
(50 and 0), as in DRF. An absurd ``offset`` is answered as it is, with an empty page: DRF counts
the rows first and returns no rows without querying them when the offset lies beyond the count,
so no offset larger than the count ever reaches the database.
"""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    max_limit = 500
