"""The OB editor's visibility plots: airmass through one night, hours per night over the period.

Thin views over :mod:`observations.visibility`: who may read the OB is decided by
``selectors.visible_ob`` (anyone else gets a 404), the OB is turned into plain inputs here,
and the PNG is drawn by the pure module.

- An OB without coordinates answers 200 with a small "no target coordinates yet" PNG, not a
  404: the editor shows the plots beside the form from the OB's creation on, and an ``<img>``
  that fails to load would only show a broken image.
- ``?date=YYYY-MM-DD`` picks the night (a local evening date at the site); by default tonight
  when tonight is inside the period, else the period's first night. A date outside the period
  is drawn; one that is not a date, or more than ``DATE_MARGIN_YEARS`` outside it, is a 400.
- Caching: ``private, no-cache`` with an ETag made of everything the plot is drawn from (the
  OB's target, limits and windows, the site, the night or the period): the browser
  revalidates and gets a 304 without a redraw until something changes.
"""

import datetime
import hashlib
import re
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotModified,
)
from django.utils import timezone
from django.utils.http import parse_etags
from django.views.decorators.http import require_safe

from dataflow.astro.site import Site
from observations import visibility as vis
from observations import visibility_plot as plot
from observations.models import ObservationBlock
from observations.selectors import visible_ob
from proposals.models import Period

#: Bumped whenever the drawing changes, so that cached PNGs are not reused.
DRAWING_VERSION = "1"
#: How far outside the period a requested night may be, years.
DATE_MARGIN_YEARS = 3
NO_TARGET = "No target coordinates yet: set RA and Dec to see the visibility."
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def ob_target(ob: ObservationBlock) -> vis.ObTarget | None:
    """The OB's target, limits and absolute windows as plain values; ``None`` without RA/Dec."""
    if ob.ra_deg is None or ob.dec_deg is None:
        return None
    return vis.ObTarget(
        name=ob.target_name or ob.name,
        ra_deg=ob.ra_deg,
        dec_deg=ob.dec_deg,
        max_airmass=ob.max_airmass,
        min_moon_distance_deg=ob.min_moon_distance_deg,
        pm_ra_arcsec_yr=ob.pm_ra,
        pm_dec_arcsec_yr=ob.pm_dec,
        epoch_jyear=ob.epoch,
        windows=tuple((w.start, w.end) for w in ob.absolute.all()),
    )


def _readable_ob(request: HttpRequest, ob_id: int) -> ObservationBlock:
    try:
        return visible_ob(request.user, ob_id)
    except ObservationBlock.DoesNotExist:
        raise Http404("No such OB.") from None


def _site_and_period(ob: ObservationBlock) -> tuple[Site, Period]:
    run = ob.run
    return run.telescope.site.as_astro(), run.proposal.period


def _png_response(
    request: HttpRequest, key: tuple[object, ...], draw: Callable[[], bytes]
) -> HttpResponse:
    """The PNG ``draw()`` makes, or a 304 when the client holds the one for ``key``."""
    etag = '"' + hashlib.sha256(repr((DRAWING_VERSION, *key)).encode()).hexdigest()[:32] + '"'
    held = parse_etags(request.headers.get("If-None-Match", ""))
    response: HttpResponse
    if etag in held or "*" in held:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(draw(), content_type="image/png")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _night_of(request: HttpRequest, site: Site, period: Period) -> datetime.date | str:
    """The requested night, the default one, or the message of a 400."""
    text = request.GET.get("date")
    if text is None or text == "":
        return vis.default_night(site, period.start, period.end, timezone.now())
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        night = datetime.date.fromisoformat(text)
    except ValueError:
        return f"'date' must be a night's local evening date as YYYY-MM-DD, not {text[:40]!r}."
    earliest = datetime.date(period.start.year - DATE_MARGIN_YEARS, 1, 1)
    latest = datetime.date(period.end.year + DATE_MARGIN_YEARS, 12, 31)
    if not earliest <= night <= latest:
        return (
            f"'date' must be within {DATE_MARGIN_YEARS} years of the period "
            f"({earliest:%Y-%m-%d} to {latest:%Y-%m-%d})."
        )
    return night


@login_required
@require_safe
def night_png(request: HttpRequest, ob_id: int) -> HttpResponse:
    """PNG: the OB's airmass through one night (``?date=YYYY-MM-DD``), Moon and twilights."""
    ob = _readable_ob(request, ob_id)
    site, period = _site_and_period(ob)
    night = _night_of(request, site, period)
    if isinstance(night, str):
        return HttpResponseBadRequest(night, content_type="text/plain; charset=utf-8")
    target = ob_target(ob)
    if target is None:
        return _png_response(request, ("none",), lambda: plot.no_target_png(NO_TARGET))
    return _png_response(
        request,
        ("night", target, site, night),
        lambda: plot.night_png(vis.night_airmass(site, target, night), site),
    )


@login_required
@require_safe
def period_png(request: HttpRequest, ob_id: int) -> HttpResponse:
    """PNG: hours per night over the period at airmass <= the OB's limit (in its windows)."""
    ob = _readable_ob(request, ob_id)
    site, period = _site_and_period(ob)
    target = ob_target(ob)
    if target is None:
        return _png_response(request, ("none",), lambda: plot.no_target_png(NO_TARGET))
    start, end = period.start, period.end
    label = f"{period} ({start:%Y-%m-%d} to {end:%Y-%m-%d})"
    return _png_response(
        request,
        ("period", target, site, label),
        lambda: plot.period_png(vis.period_hours(site, target, start, end), label),
    )
