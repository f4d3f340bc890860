"""TAP 1.1 over ``ivoa.obscore`` and ``TAP_SCHEMA``: sync, async (UWS 1.1) and VOSI.

TAP needs PostgreSQL (pgSphere for ADQL's geometry, the view the VO migration creates); on
SQLite (``make run``) every query is answered with a VOTable error that says so.
"""

from __future__ import annotations

import datetime
import time
import uuid
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from archive.models import TapJob, TapPhase
from archive.vo import adql, services
from archive.vo.auth import vo_user
from archive.vo.http import base_url, first, params, vo_error, vo_view, votable, xml
from archive.vo.schema import FOREIGN_KEYS, OBSCORE, SCHEMAS, TABLES, Table, table_named
from archive.vo.views import CAPABILITIES_HEAD, availability_document, capability
from archive.vo.votable import error_document, table_document
from dataflow.permissions import AnyUser

NEEDS_POSTGRESQL = (
    "TAP needs PostgreSQL with the pgSphere extension; this server runs on "
    "{vendor}. Cone search (/vo/scs) and SIA 2.0 (/vo/sia) work here."
)
VOTABLE_FORMATS = {
    "votable", "application/x-votable+xml", "text/xml", "application/xml",
    "votable/td", "application/x-votable+xml;serialization=tabledata",
}  # fmt: skip
MAX_WAIT_S = 60


def tap_unavailable() -> str | None:
    if connection.vendor != "postgresql":
        return NEEDS_POSTGRESQL.format(vendor=connection.vendor)
    return None


class BadRequest(Exception):
    pass


def check_request(values: dict[str, list[str]]) -> tuple[str, int | None]:
    """(QUERY, MAXREC) of a TAP request; :class:`BadRequest` for what TAP 1.1 refuses."""
    request = first(values, "REQUEST")
    if request is not None and request != "doQuery":
        raise BadRequest(f"REQUEST must be doQuery, not {request!r}")
    lang = first(values, "LANG")
    if lang is None:
        raise BadRequest("LANG is required (ADQL)")
    if lang.upper() not in {"ADQL", "ADQL-2.0"}:
        raise BadRequest(f"LANG {lang!r} is not supported: use ADQL")
    for name in ("RESPONSEFORMAT", "FORMAT"):
        wanted = first(values, name)
        if wanted and wanted.lower().replace(" ", "") not in VOTABLE_FORMATS:
            raise BadRequest(f"{name} {wanted!r} is not supported: results are VOTables")
    if values.get("UPLOAD"):
        raise BadRequest("UPLOAD is not supported by this service")
    query = first(values, "QUERY")
    if not query or not query.strip():
        raise BadRequest("QUERY is required")
    maxrec_text = first(values, "MAXREC")
    try:
        maxrec = adql.parse_maxrec(maxrec_text) if maxrec_text is not None else None
    except adql.AdqlError as error:
        raise BadRequest(str(error)) from error
    return query, maxrec


# ---------------------------------------------------------------------------------------------
# sync
# ---------------------------------------------------------------------------------------------


@vo_view()
def sync(request: HttpRequest) -> HttpResponseBase:
    values = params(request)
    try:
        query, maxrec = check_request(values)
    except BadRequest as error:
        return vo_error(str(error))
    if unavailable := tap_unavailable():
        return vo_error(unavailable)
    user = vo_user(request)
    try:
        translated = adql.translate(query)
        result = adql.run(
            translated, user=user, maxrec=adql.DEFAULT_MAXREC if maxrec is None else maxrec
        )
    except adql.AdqlError as error:
        return vo_error(str(error))
    return votable(
        "".join(
            table_document(
                result.fields, result.rows, base_url=base_url(request), overflow=result.overflow
            )
        )
    )


# ---------------------------------------------------------------------------------------------
# async (UWS 1.1)
# ---------------------------------------------------------------------------------------------

UWS_HEAD = (
    'xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1"'
)


def _time(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _element(name: str, value: str | None) -> str:
    if value is None:
        return f'<uws:{name} xsi:nil="true"/>'
    return f"<uws:{name}>{escape(value)}</uws:{name}>"


def job_url(request: HttpRequest, job: TapJob, suffix: str = "") -> str:
    path = reverse("vo:tap-job", args=[job.job_id]) + suffix
    return request.build_absolute_uri(path)


def job_parameters(job: TapJob) -> list[tuple[str, str]]:
    values = [("REQUEST", "doQuery"), ("LANG", job.lang), ("QUERY", job.query)]
    if job.maxrec is not None:
        values.append(("MAXREC", str(job.maxrec)))
    return values


def parameters_xml(job: TapJob) -> str:
    return (
        "<uws:parameters>"
        + "".join(
            f'<uws:parameter id="{name}">{escape(value)}</uws:parameter>'
            for name, value in job_parameters(job)
        )
        + "</uws:parameters>"
    )


def results_xml(request: HttpRequest, job: TapJob) -> str:
    if job.phase != TapPhase.COMPLETED:
        return "<uws:results/>"
    href = quoteattr(job_url(request, job, "/results/result"))
    return f'<uws:results><uws:result id="result" xlink:href={href}/></uws:results>'


def job_document(request: HttpRequest, job: TapJob) -> str:
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:job {UWS_HEAD}>',
        _element("jobId", str(job.job_id)),
    ]
    if job.run_id:
        parts.append(_element("runId", job.run_id))
    parts += [
        _element("ownerId", job.owner.get_username() if job.owner else None),
        _element("phase", job.phase),
        _element("quote", None),
        _element("creationTime", _time(job.created_at)),
        _element("startTime", _time(job.started_at)),
        _element("endTime", _time(job.ended_at)),
        _element("executionDuration", str(job.execution_duration_s)),
        _element("destruction", _time(job.destruction)),
        parameters_xml(job),
        results_xml(request, job),
    ]
    if job.phase == TapPhase.ERROR:
        parts.append(
            '<uws:errorSummary type="fatal" hasDetail="true">'
            f"<uws:message>{escape(job.error_message)}</uws:message></uws:errorSummary>"
        )
    parts.append("</uws:job>\n")
    return "".join(parts)


def jobs_of(user: AnyUser) -> list[TapJob]:
    if not user.is_authenticated:
        return []
    return list(TapJob.objects.filter(owner=user).order_by("-created_at")[:500])


def find_job(user: AnyUser, job_id: uuid.UUID) -> TapJob | None:
    """The job, if ``user`` owns it (anonymous jobs: whoever knows the id)."""
    job = TapJob.objects.select_related("owner").filter(job_id=job_id).first()
    if job is None:
        return None
    if job.owner_id is not None and job.owner_id != getattr(user, "pk", None):
        return None
    return job


@vo_view(("GET", "POST"))
def async_jobs(request: HttpRequest) -> HttpResponseBase:
    user = vo_user(request)
    if request.method == "GET":
        refs = "".join(
            f'<uws:jobref id="{job.job_id}" xlink:href={quoteattr(job_url(request, job))}>'
            f"{_element('phase', job.phase)}{_element('creationTime', _time(job.created_at))}"
            "</uws:jobref>"
            for job in jobs_of(user)
        )
        return xml(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:jobs {UWS_HEAD}>{refs}</uws:jobs>\n'
        )
    values = params(request)
    # UWS: a job is created whatever its parameters (303); a bad one ends in ERROR.
    problem = None
    try:
        query, maxrec = check_request(values)
    except BadRequest as error:
        query, maxrec, problem = first(values, "QUERY") or "", None, str(error)
    phase = (first(values, "PHASE") or "").upper()
    if problem is None and phase not in {"", "RUN"}:
        problem = f"PHASE at creation must be RUN or absent, not {phase!r}"
    problem = problem or tap_unavailable()
    job = services.tap_job_create(
        owner=user,
        query=query,
        maxrec=maxrec,
        run_id=first(values, "RUNID") or "",
        run=phase == "RUN" and problem is None,
        base_url=base_url(request),
    )
    if problem is not None:
        services.tap_job_fail(job_id=job.pk, message=problem)
    return HttpResponseRedirect(job_url(request, job), status=303)


class SeeOther(HttpResponseRedirect):
    status_code = 303


def _wait(job: TapJob, values: dict[str, list[str]]) -> TapJob:
    """UWS 1.1 blocking: while the job is in an active phase (or the phase named), up to WAIT s."""
    wait_text = first(values, "WAIT")
    if wait_text is None:
        return job
    try:
        wait = float(wait_text)
    except ValueError:
        return job
    wait = MAX_WAIT_S if wait < 0 else min(wait, MAX_WAIT_S)
    named = (first(values, "PHASE") or "").upper()
    deadline = time.monotonic() + wait
    while job.phase in services.ACTIVE and (not named or job.phase == named):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
        job.refresh_from_db()
    return job


@vo_view(("GET", "POST", "DELETE"))
def job_view(request: HttpRequest, tap_job_id: uuid.UUID) -> HttpResponseBase:
    user = vo_user(request)
    job = find_job(user, tap_job_id)
    if job is None:
        return vo_error(f"No job {tap_job_id}", 404)
    values = params(request)
    action = (first(values, "ACTION") or "").upper()
    if request.method == "DELETE" or (request.method == "POST" and action == "DELETE"):
        services.tap_job_delete(job_id=job.pk)
        return SeeOther(request.build_absolute_uri(reverse("vo:tap-async")))
    if request.method == "POST":
        return vo_error("POST to a job takes ACTION=DELETE")
    job = _wait(job, values)
    return xml(job_document(request, job))


JOB_ITEMS = {"phase", "executionduration", "destruction", "error", "quote", "owner",
             "parameters", "results"}  # fmt: skip


@vo_view(("GET", "POST"))
def job_item(request: HttpRequest, tap_job_id: uuid.UUID, job_item: str) -> HttpResponseBase:
    user = vo_user(request)
    job = find_job(user, tap_job_id)
    item = job_item
    if job is None or item not in JOB_ITEMS:
        return vo_error(f"No job {tap_job_id} or no {item} of it", 404)
    values = params(request)
    if request.method == "POST":
        return _job_item_post(request, job, item, values)
    plain = "text/plain; charset=utf-8"
    if item == "phase":
        return HttpResponse(job.phase, content_type=plain)
    if item == "executionduration":
        return HttpResponse(str(job.execution_duration_s), content_type=plain)
    if item == "destruction":
        return HttpResponse(_time(job.destruction) or "", content_type=plain)
    if item == "quote":
        return HttpResponse("", content_type=plain)
    if item == "owner":
        return HttpResponse(job.owner.get_username() if job.owner else "", content_type=plain)
    if item == "parameters":
        return xml(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + parameters_xml(job).replace("<uws:parameters>", f"<uws:parameters {UWS_HEAD}>", 1)
        )
    if item == "results":
        return xml(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + results_xml(request, job).replace("<uws:results", f"<uws:results {UWS_HEAD}", 1)
        )
    # error: the job's error as a VOTable error document (TAP 1.1).
    if job.phase != TapPhase.ERROR:
        return vo_error("The job has no error", 404)
    return votable(error_document(job.error_message))


def _job_item_post(
    request: HttpRequest, job: TapJob, item: str, values: dict[str, list[str]]
) -> HttpResponseBase:
    back = SeeOther(job_url(request, job))
    try:
        if item == "phase":
            phase = (first(values, "PHASE") or "").upper()
            if phase == "RUN" and (unavailable := tap_unavailable()):
                services.tap_job_fail(job_id=job.pk, message=unavailable)
                return back
            services.tap_job_phase(job_id=job.pk, phase=phase, base_url=base_url(request))
        elif item == "executionduration":
            services.tap_job_update(
                job_id=job.pk, execution_duration_s=int(first(values, "EXECUTIONDURATION") or "")
            )
        elif item == "destruction":
            when = parse_datetime(first(values, "DESTRUCTION") or "")
            if when is None:
                return vo_error("DESTRUCTION must be an ISO 8601 time")
            services.tap_job_update(job_id=job.pk, destruction=when)
        elif item == "parameters":
            maxrec_text = first(values, "MAXREC")
            services.tap_job_update(
                job_id=job.pk,
                query=first(values, "QUERY"),
                maxrec=adql.parse_maxrec(maxrec_text) if maxrec_text is not None else None,
            )
        else:
            return vo_error(f"{item} cannot be changed", 405)
    except (services.JobConflict, adql.AdqlError, ValueError) as error:
        return vo_error(str(error))
    return back


@vo_view(("GET",))
def job_result(request: HttpRequest, tap_job_id: uuid.UUID) -> HttpResponseBase:
    user = vo_user(request)
    job = find_job(user, tap_job_id)
    if job is None or job.phase != TapPhase.COMPLETED or not job.result_path:
        return vo_error(f"No result of job {tap_job_id}", 404)
    path = Path(settings.ARCHIVE_ROOT) / job.result_path
    if not path.is_file():
        return vo_error(f"The result of job {tap_job_id} is gone", 404)
    return FileResponse(path.open("rb"), content_type="application/x-votable+xml")


# ---------------------------------------------------------------------------------------------
# VOSI
# ---------------------------------------------------------------------------------------------

GEOMETRY = ("POINT", "CIRCLE", "POLYGON", "BOX", "CONTAINS", "INTERSECTS", "DISTANCE")


@vo_view(("GET",))
def capabilities(request: HttpRequest) -> HttpResponseBase:
    url = request.build_absolute_uri
    features = "".join(f"<feature><form>{name}</form></feature>" for name in GEOMETRY)
    tap = (
        '<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">'
        '<interface xsi:type="vs:ParamHTTP" role="std" version="1.1">'
        f'<accessURL use="base">{escape(url(reverse("vo:tap")))}</accessURL></interface>'
        '<dataModel ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1">ObsCore-1.1</dataModel>'
        "<language><name>ADQL</name>"
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>'
        "<description>ADQL 2.0, translated to PostgreSQL with pgSphere</description>"
        '<languageFeatures type="ivo://ivoa.net/std/TAPRegExt#features-adqlgeo">'
        f"{features}</languageFeatures></language>"
        '<outputFormat ivo-id="ivo://ivoa.net/std/TAPRegExt#output-votable-td">'
        "<mime>application/x-votable+xml</mime><alias>votable</alias></outputFormat>"
        f"<retentionPeriod><default>{int(services.RETENTION.total_seconds())}</default>"
        "</retentionPeriod>"
        f"<executionDuration><default>{adql.ASYNC_TIMEOUT_MS // 1000}</default>"
        "</executionDuration>"
        f'<outputLimit><default unit="row">{adql.DEFAULT_MAXREC}</default>'
        f'<hard unit="row">{adql.HARD_MAXREC}</hard></outputLimit>'
        "</capability>\n"
    )
    body = (
        CAPABILITIES_HEAD
        + tap
        + capability("ivo://ivoa.net/std/VOSI#capabilities", url(reverse("vo:tap-capabilities")))
        + capability("ivo://ivoa.net/std/VOSI#tables", url(reverse("vo:tap-tables")))
        + capability("ivo://ivoa.net/std/VOSI#availability", url(reverse("vo:tap-availability")))
        + capability("ivo://ivoa.net/std/DataLink#links-1.1", url(reverse("vo:datalink")))
        + "</vosi:capabilities>\n"
    )
    return xml(body)


def column_xml(table: Table) -> str:
    parts = []
    for c in table.columns:
        size = f' arraysize="{c.arraysize}"' if c.arraysize else ""
        xtype = f' extendedType="{c.xtype}"' if c.xtype else ""
        parts.append(
            f"<column><name>{escape(c.adql_name)}</name>"
            f"<description>{escape(c.description)}</description>"
            + (f"<unit>{escape(c.unit)}</unit>" if c.unit else "")
            + (f"<ucd>{escape(c.ucd)}</ucd>" if c.ucd else "")
            + (f"<utype>{escape(c.utype)}</utype>" if c.utype else "")
            + f'<dataType xsi:type="vs:VOTableType"{size}{xtype}>{c.datatype}</dataType>'
            + ("<flag>indexed</flag>" if c.indexed else "")
            + ("<flag>primary</flag>" if c.principal else "")
            + ("<flag>std</flag>" if c.std else "")
            + "</column>"
        )
    return "".join(parts)


def foreign_keys_xml(table: Table) -> str:
    return "".join(
        f"<foreignKey><targetTable>{key.target_table}</targetTable>"
        + "".join(
            f"<fkColumn><fromColumn>{a}</fromColumn><targetColumn>{b}</targetColumn></fkColumn>"
            for a, b in key.columns
        )
        + f"<description>{escape(key.description)}</description></foreignKey>"
        for key in FOREIGN_KEYS
        if key.from_table == table.name
    )


def table_xml(table: Table, *, detail: bool, root: bool = False) -> str:
    ns = (
        ' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    )
    open_tag = (
        f'<vs:table{ns} type="{table.table_type}">'
        if root
        else f'<table type="{table.table_type}">'
    )
    close_tag = "</vs:table>" if root else "</table>"
    body = f"<name>{table.name}</name><description>{escape(table.description)}</description>"
    if table.utype:
        body += f"<utype>{escape(table.utype)}</utype>"
    if detail:
        body += column_xml(table) + foreign_keys_xml(table)
    return open_tag + body + close_tag


@vo_view(("GET",))
def tables(request: HttpRequest) -> HttpResponseBase:
    detail = (request.GET.get("detail") or "").lower() != "min"
    schemas = "".join(
        f"<schema><name>{name}</name><description>{escape(description)}</description>"
        + "".join(table_xml(t, detail=detail) for t in TABLES if t.schema == name)
        + "</schema>"
        for name, description in SCHEMAS
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{schemas}</vosi:tableset>\n"
    )
    return xml(body)


@vo_view(("GET",))
def table(request: HttpRequest, table_name: str) -> HttpResponseBase:
    found = table_named(table_name)
    if found is None:
        return vo_error(f"No table {table_name}", 404)
    return xml(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + table_xml(found, detail=True, root=True)
    )


@vo_view(("GET",))
def availability(request: HttpRequest) -> HttpResponseBase:
    if unavailable := tap_unavailable():
        return xml(availability_document(False, unavailable))
    return xml(availability_document(True, f"TAP over {OBSCORE.name} is accepting queries"))


@vo_view(("GET",))
def tap_root(request: HttpRequest) -> HttpResponseBase:
    links = "".join(
        f'<li><a href="{reverse(name)}">{label}</a></li>'
        for name, label in (
            ("vo:tap-capabilities", "capabilities"),
            ("vo:tap-tables", "tables"),
            ("vo:tap-availability", "availability"),
        )
    )
    return HttpResponse(
        f"<!DOCTYPE html><title>TAP</title><h1>TAP service</h1><ul>{links}</ul>",
        content_type="text/html; charset=utf-8",
    )
