"""Simple Cone Search 1.03, SIA 2.0, DataLink and the file download, on any database.

Rows are those the client may download now (archive.access.readable_files: public ones for
everyone, proprietary ones for their programme's PI, co-investigators, delegates and staff);
their ObsCore values come from the one column specification (archive.vo.schema).
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse

from archive.access import may_download, readable_files, readable_q
from archive.cone import cone
from archive.models import ArchiveFile
from archive.vo import sia
from archive.vo.auth import vo_user
from archive.vo.http import base_url, first, params, vo_error, vo_view, votable, xml
from archive.vo.schema import DID_PREFIX, OBSCORE, OBSCORE_COLUMNS, Column
from archive.vo.votable import Field, scs_error_document, table_document
from dataflow.permissions import AnyUser

SCS_MAX_ROWS = 50_000
SCS_UCD1 = {"obs_id": "ID_MAIN", "s_ra": "POS_EQ_RA_MAIN", "s_dec": "POS_EQ_DEC_MAIN"}
SCS_VERB = {
    1: ("obs_id", "s_ra", "s_dec"),
    2: ("obs_id", "s_ra", "s_dec", "target_name", "instrument_name", "dataproduct_type",
        "t_min", "t_exptime", "obs_release_date", "access_url", "access_format"),
}  # fmt: skip
DISTANCE = Field(
    name="distance",
    datatype="double",
    unit="deg",
    ucd="POS_ANG_DIST_GENERAL",
    description="Distance from the cone's centre",
)


def files_for(user: AnyUser) -> QuerySet[ArchiveFile]:
    """The files ``user`` may download now (archive.access), without their header text."""
    condition = readable_q(user)
    if condition is not None and not user.is_authenticated:
        # Anonymous: the condition joins nothing, so no de-duplicating subquery is needed
        # (it costs the planner more than a small cone takes to run).
        return ArchiveFile.objects.filter(condition).defer("header_text")
    return readable_files(user).defer("header_text")


def cone_files(user: AnyUser, ra: float, dec: float, radius: float) -> QuerySet[ArchiveFile]:
    """Cone search's rows: nearest first."""
    return cone(files_for(user), ra, dec, radius).order_by("distance_deg", "dp_id")


def obscore_row(f: ArchiveFile, columns: tuple[Column, ...] = OBSCORE_COLUMNS) -> list[object]:
    return [c.value(f) if c.value is not None else None for c in columns]


# ---------------------------------------------------------------------------------------------
# Simple Cone Search 1.03
# ---------------------------------------------------------------------------------------------


def scs_error(message: str, status: int = 200) -> HttpResponseBase:
    # SCS 1.03 answers errors with HTTP 200 and the error in the document.
    return votable(scs_error_document(message), status=200 if status < 500 else status)


@vo_view(("GET",), on_error=scs_error)
def scs(request: HttpRequest) -> HttpResponseBase:
    values = params(request)
    try:
        ra, dec, radius = (float(first(values, name) or "") for name in ("RA", "DEC", "SR"))
        verb = int(first(values, "VERB") or 2)
    except ValueError:
        return scs_error("RA, DEC and SR are required, in decimal degrees (VERB an integer)")
    if not all(math.isfinite(v) for v in (ra, dec, radius)):
        return scs_error("RA, DEC and SR must be finite numbers")
    if not (0 <= ra <= 360 and -90 <= dec <= 90 and 0 <= radius <= 180):
        return scs_error("RA must be within [0, 360], DEC within [-90, 90], SR within [0, 180]")
    user = vo_user(request)
    names = SCS_VERB.get(verb, tuple(c.name for c in OBSCORE_COLUMNS))
    columns = tuple(c for c in OBSCORE_COLUMNS if c.name in names)
    fields = [Field.of(c, ucd=SCS_UCD1.get(c.name)) for c in columns] + [DISTANCE]
    if radius == 0:  # the metadata query: the fields, no rows
        rows: list[list[object]] = []
    else:
        found = cone_files(user, ra, dec, radius)
        rows = [
            [*obscore_row(f, columns), getattr(f, "distance_deg", None)]
            for f in found[:SCS_MAX_ROWS]
        ]
    return votable(table_document(fields, rows, base_url=base_url(request)))


# ---------------------------------------------------------------------------------------------
# SIA 2.0
# ---------------------------------------------------------------------------------------------


@vo_view()
def sia_query(request: HttpRequest) -> HttpResponseBase:
    try:
        query = sia.parse(params(request))
    except sia.ParameterError as error:
        return vo_error(str(error))
    user = vo_user(request)
    rows: list[list[object]] = []
    overflow = False
    for f in sia.matching(files_for(user), query):
        if len(rows) == query.maxrec:
            overflow = True
            break
        rows.append(obscore_row(f))
    fields = [Field.of(c) for c in OBSCORE.columns]
    return votable(table_document(fields, rows, base_url=base_url(request), overflow=overflow))


def capability(standard_id: str, url: str, *, use: str = "full", extra: str = "") -> str:
    return (
        f'<capability standardID="{standard_id}">'
        f'<interface xsi:type="vs:ParamHTTP" role="std">'
        f'<accessURL use="{use}">{escape(url)}</accessURL></interface>{extra}</capability>\n'
    )


CAPABILITIES_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
    'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
    'xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0" '
    'xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
)


@vo_view(("GET",))
def sia_capabilities(request: HttpRequest) -> HttpResponseBase:
    url = request.build_absolute_uri
    body = (
        CAPABILITIES_HEAD
        + capability("ivo://ivoa.net/std/VOSI#capabilities", url(reverse("vo:sia-capabilities")))
        + capability("ivo://ivoa.net/std/VOSI#availability", url(reverse("vo:sia-availability")))
        + '<capability standardID="ivo://ivoa.net/std/SIA#query-2.0">'
        '<interface xsi:type="vs:ParamHTTP" role="std" version="2.0">'
        f'<accessURL use="base">{escape(url(reverse("vo:sia-query")))}</accessURL>'
        "</interface></capability>\n"
        "</vosi:capabilities>\n"
    )
    return xml(body)


def availability_document(available: bool, note: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<avail:availability xmlns:avail="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        f"<avail:available>{'true' if available else 'false'}</avail:available>"
        f"<avail:note>{escape(note)}</avail:note></avail:availability>\n"
    )


@vo_view(("GET",))
def sia_availability(request: HttpRequest) -> HttpResponseBase:
    return xml(availability_document(True, "SIA 2.0 over the archive is accepting queries"))


# ---------------------------------------------------------------------------------------------
# DataLink and the download
# ---------------------------------------------------------------------------------------------

DATALINK_FIELDS = [
    Field("ID", "char", "*", ucd="meta.id;meta.main", description="The dataset asked for"),
    Field("access_url", "char", "*", ucd="meta.ref.url", description="Link"),
    Field("service_def", "char", "*", ucd="meta.ref", description="Service descriptor"),
    Field("error_message", "char", "*", ucd="meta.code.error", description="Why no link"),
    Field("semantics", "char", "*", ucd="meta.code", description="What the link is"),
    Field("description", "char", "*", ucd="meta.note", description="About the link"),
    Field("content_type", "char", "*", ucd="meta.code.mime", description="MIME type"),
    Field("content_length", "long", unit="byte", ucd="phys.size;meta.file", description="Size"),
]


@vo_view()
def datalink(request: HttpRequest) -> HttpResponseBase:
    ids = params(request).get("ID", [])
    if not ids:
        return vo_error("ID is required: a dataset identifier (obs_publisher_did or obs_id)")
    user = vo_user(request)
    wanted = {i: i.removeprefix(DID_PREFIX) for i in ids}
    found = {f.dp_id: f for f in files_for(user).filter(dp_id__in=set(wanted.values()))}
    rows: list[list[object]] = []
    for asked, dp_id in wanted.items():
        f = found.get(dp_id)
        if f is None:
            rows.append([asked, None, None, f"NotFoundFault: {asked}", "#this", None, None, None])
            continue
        url = request.build_absolute_uri(reverse("vo:download", args=[f.dp_id]))
        rows.append(
            [asked, url, None, None, "#this", f"The FITS file {f.arcfile}", "application/fits",
             f.size_bytes]
        )  # fmt: skip
    return votable(table_document(DATALINK_FIELDS, rows, base_url=base_url(request)))


@vo_view(("GET",))
def download(request: HttpRequest, dp_id: str) -> HttpResponseBase:
    """The file's bytes, if ``archive.access.may_download`` says so at this moment."""
    archive_file = ArchiveFile.objects.defer("header_text").filter(dp_id=dp_id).first()
    if archive_file is None:
        return vo_error(f"No dataset {dp_id}", 404)
    user = vo_user(request)
    if not may_download(user, archive_file):
        if not user.is_authenticated:
            return vo_error("The file is proprietary: send your API token (Bearer)", 401)
        return vo_error("The file is proprietary until " + str(archive_file.release_date), 403)
    root = Path(settings.ARCHIVE_ROOT).resolve()
    path = (root / archive_file.storage_path).resolve()
    if root not in path.parents or not path.is_file():
        return vo_error(f"The file of {dp_id} is not in the archive's storage", 404)
    return FileResponse(
        path.open("rb"),
        content_type="application/fits",
        as_attachment=True,
        filename=archive_file.arcfile,
    )
