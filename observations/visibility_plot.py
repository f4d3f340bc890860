"""The PNGs of an OB's visibility (:mod:`observations.visibility` computes what they show):
matplotlib, Agg, no pyplot, sized and styled like :mod:`dataflow.astro.plot`.
"""

import datetime
import io
import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import (
    AutoDateLocator,
    ConciseDateFormatter,
    DateFormatter,
    HourLocator,
    date2num,
)
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from dataflow.astro.geometry import airmass, altitude_for_airmass
from dataflow.astro.site import Site
from observations.visibility import (
    JD_UNIX_EPOCH,
    UNIX_EPOCH,
    NightAirmass,
    PeriodHours,
    merged_windows,
)

_WIDTH_IN = 6.5
_DPI = 150
_TWILIGHT_GREYS = ("0.93", "0.86", "0.79")  # astronomical, nautical, civil twilight
_WINDOW_COLOUR = "tab:green"
_LIMIT_COLOUR = "tab:red"
_ALTITUDE_TICKS = (15, 20, 30, 40, 50, 60, 90)


# ---------------------------------------------------------------------------------------------
# PNGs
# ---------------------------------------------------------------------------------------------


def _jd_of_mpl_epoch() -> float:
    """UTC Julian date of matplotlib's date epoch (rcParams["date.epoch"], 1970 by default)."""
    return JD_UNIX_EPOCH - float(date2num(np.datetime64("1970-01-01T00:00:00")))


def _x(jd: ArrayLike) -> NDArray[np.float64]:
    """Matplotlib date numbers of UTC Julian dates."""
    x: NDArray[np.float64] = np.asarray(jd, dtype=np.float64) - _jd_of_mpl_epoch()
    return x


def _x1(jd: float) -> float:
    return jd - _jd_of_mpl_epoch()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _utc_offset_label(site: Site, jd: float) -> str:
    """``"local = UTC-3 (America/Santiago)"`` at ``jd``; empty for UTC or an unknown zone."""
    if site.timezone in ("", "UTC"):
        return ""
    try:
        zone = ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    instant = UNIX_EPOCH + datetime.timedelta(days=jd - JD_UNIX_EPOCH)
    offset = instant.astimezone(zone).utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\N{MINUS SIGN}"
    hours, rest = divmod(abs(minutes), 60)
    shown = f"{hours}" if rest == 0 else f"{hours}:{rest:02d}"
    return f"local = UTC{sign}{shown} ({site.timezone})"


def _shade_twilights(ax: Axes, night: NightAirmass) -> None:
    """Grey from sunset to astronomical dusk and from astronomical dawn to sunrise."""
    edges = [
        (night.civil_dusk_jd, night.civil_dawn_jd),
        (night.nautical_dusk_jd, night.nautical_dawn_jd),
        (night.astronomical_dusk_jd, night.astronomical_dawn_jd),
    ]
    inner = (night.sunset_jd, night.sunrise_jd)
    for i, ((dusk, dawn), grey) in enumerate(zip(edges, _TWILIGHT_GREYS[::-1], strict=True)):
        # Where the Sun does not reach this depth, the twilight fills the rest of the night.
        dusk = dusk if math.isfinite(dusk) else 0.5 * (inner[0] + inner[1])
        dawn = dawn if math.isfinite(dawn) else dusk
        label = "twilight" if i == 0 else None
        ax.axvspan(_x1(inner[0]), _x1(dusk), color=grey, lw=0, label=label, zorder=0)
        ax.axvspan(_x1(dawn), _x1(inner[1]), color=grey, lw=0, zorder=0)
        inner = (dusk, dawn)


def _lst_ticks(ax: Axes, night: NightAirmass) -> None:
    """A top axis with the local sidereal time every two hours."""
    top = ax.twiny()
    top.set_xlim(ax.get_xlim())
    if night.jd.size > 1:
        lst = np.degrees(np.unwrap(np.radians(night.lst_hours * 15.0))) / 15.0
        hours = np.arange(math.ceil(lst[0] / 2.0) * 2, math.floor(lst[-1]) + 1, 2)
        top.set_xticks(list(_x(np.interp(hours, lst, night.jd))))
        top.set_xticklabels([f"{int(h) % 24:02d}h" for h in hours])
    else:
        top.set_xticks([])
    top.set_xlabel("local sidereal time", fontsize=7)
    top.tick_params(labelsize=7)


def night_png(night: NightAirmass, site: Site) -> bytes:
    """Render a night's airmass curve as a PNG (6.5 x 3.8 inches at 150 dpi).

    Upper panel: the target's airmass (bold where observable: airmass <= limit, Sun below
    -18 deg, inside a window if the OB has any), the Moon's (dashed, with its illumination),
    the airmass limit, twilights in grey, absolute windows in green; UTC below, LST above,
    altitude on the right. Lower panel: the target-Moon distance and the OB's minimum.
    """
    target = night.target
    limit = target.max_airmass
    fig = Figure(figsize=(_WIDTH_IN, 3.8), dpi=_DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
    ax = fig.add_subplot(grid[0])
    ax_moon = fig.add_subplot(grid[1], sharex=ax)
    x = _x(night.jd)
    x_range = (float(x[0]), float(x[-1]) if x[-1] > x[0] else float(x[0]) + 1.0 / 24.0)

    bottom = max(3.0, min(limit + 0.4, 6.0))
    shown = np.where(night.airmass <= bottom + 1.0, night.airmass, np.nan)
    moon = airmass(night.moon_alt_deg)
    moon = np.where(moon <= bottom + 1.0, moon, np.nan)
    good = np.where(night.observable(), night.airmass, np.nan)
    _shade_twilights(ax, night)
    for i, (s, e) in enumerate(merged_windows(target.windows)):
        if e < night.jd[0] or s > night.jd[-1]:
            continue
        label = "absolute time window" if i == 0 else None
        lo, hi = _x1(max(s, float(night.jd[0]))), _x1(min(e, float(night.jd[-1])))
        ax.axvspan(lo, hi, color=_WINDOW_COLOUR, alpha=0.15, lw=0, label=label, zorder=0.5)
    ax.plot(x, shown, color="tab:blue", lw=0.9, label=target.name or "target")
    ax.plot(x, good, color="tab:blue", lw=2.4, label=f"observable: {night.hours:.1f} h")
    ax.plot(x, moon, color="0.45", ls="--", lw=1, label=f"Moon ({night.moon_fli:.0%} illuminated)")
    ax.axhline(limit, color=_LIMIT_COLOUR, ls=":", lw=1.2, label=f"max airmass {limit:g}")
    ax.set_ylim(bottom, 1.0)
    ax.set_xlim(*x_range)
    ax.set_ylabel("airmass", fontsize=8)
    altitude = ax.secondary_yaxis(
        "right",
        functions=(
            lambda am: altitude_for_airmass(np.maximum(am, 1.0)),
            lambda alt: airmass(np.clip(alt, 0.0, 90.0)),
        ),
    )
    lowest = float(altitude_for_airmass(bottom))
    altitude.set_yticks([a for a in _ALTITUDE_TICKS if a >= lowest])
    altitude.set_ylabel("altitude (\N{DEGREE SIGN})", fontsize=8)
    altitude.tick_params(labelsize=7)
    ax.tick_params(labelsize=7, labelbottom=False)
    ax.grid(alpha=0.3, lw=0.5)
    _lst_ticks(ax, night)
    ax.set_title(
        f"{target.name or 'Target'} from {site.name}, night of {night.date:%Y-%m-%d}",
        fontsize=9,
    )
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.1, 1.0), frameon=False)

    moon_up = night.moon_alt_deg > 0.0
    ax_moon.plot(x, np.where(moon_up, night.moon_separation_deg, np.nan), color="0.3", lw=1)
    ax_moon.plot(
        x, np.where(moon_up, np.nan, night.moon_separation_deg), color="0.6", lw=0.8, ls=":"
    )
    if target.min_moon_distance_deg > 0:
        ax_moon.axhline(target.min_moon_distance_deg, color=_LIMIT_COLOUR, ls=":", lw=1.2)
    ax_moon.set_ylim(0.0, 180.0)
    ax_moon.set_yticks([0, 90, 180])
    ax_moon.set_ylabel("Moon\ndistance (\N{DEGREE SIGN})", fontsize=7)
    key = "solid: Moon up"
    if target.min_moon_distance_deg > 0:
        key += f"\nred: min. {target.min_moon_distance_deg:g}\N{DEGREE SIGN}"
    ax_moon.text(
        1.1,
        0.5,
        key,
        transform=ax_moon.transAxes,
        fontsize=6,
        va="center",
    )
    locator = HourLocator(interval=2)
    ax_moon.xaxis.set_major_locator(locator)
    ax_moon.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    local = _utc_offset_label(site, 0.5 * (night.sunset_jd + night.sunrise_jd))
    ax_moon.set_xlabel("UTC" + (f"   ({local})" if local else ""), fontsize=7)
    ax_moon.tick_params(labelsize=7)
    ax_moon.grid(alpha=0.3, lw=0.5)
    fig.subplots_adjust(left=0.09, right=0.72, top=0.84, bottom=0.13)
    return _png(fig)


def period_png(hours: PeriodHours, period_label: str) -> bytes:
    """Render hours per night over the period as a PNG (6.5 x 3.0 inches at 150 dpi).

    The astronomical night's length (dashed) and its moonless part (grey fill), the target's
    hours at airmass <= its limit; with absolute windows, the hours inside them (bold), the
    hours without them (thin) and the nights the windows touch (green).
    """
    target = hours.target
    fig = Figure(figsize=(_WIDTH_IN, 3.0), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    dates = np.array(hours.dates, dtype="datetime64[D]")
    limit = f"{target.max_airmass:g}"
    if dates.size:
        moonless = np.clip(hours.dark_hours - hours.moon_up_dark_hours, 0.0, None)
        ax.fill_between(dates, 0, moonless, color="0.9", step="mid", label="dark, Moon down")
        ax.plot(dates, hours.dark_hours, color="0.3", ls="--", lw=1, label="astronomical night")
        if hours.window_hours is None:
            ax.plot(dates, hours.hours, color="tab:blue", lw=1.4, label=f"airmass \u2264 {limit}")
        else:
            ax.plot(
                dates,
                hours.hours,
                color="tab:blue",
                lw=0.8,
                alpha=0.6,
                label="ignoring the windows",
            )
            ax.plot(
                dates, hours.window_hours, color="tab:blue", lw=1.8, label="in the time windows"
            )
            _shade_window_nights(ax, hours)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_xlim(dates[0] - np.timedelta64(12, "h"), dates[-1] + np.timedelta64(12, "h"))
    top = float(np.max(hours.dark_hours, initial=0.0))
    ax.set_ylim(0, max(1.0, top * 1.08))
    ax.set_ylabel("hours per night", fontsize=8)
    ax.set_xlabel("night (local evening date)", fontsize=7)
    total = float(np.sum(hours.observable_hours))
    ax.set_title(
        f"{target.name or 'Target'}: hours per night at airmass \u2264 {limit} in astronomical"
        f" night\n{period_label}: {total:.0f} h in all",
        fontsize=9,
    )
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)
    if dates.size:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return _png(fig)


def _shade_window_nights(ax: Axes, hours: PeriodHours) -> None:
    """Green over the nights each absolute window touches (clipped to the plotted nights)."""
    if not hours.dates:
        return
    first, last = hours.dates[0], hours.dates[-1]
    one = np.timedelta64(12, "h")
    labelled = False
    for start, end in hours.window_nights:
        lo, hi = max(first, start), min(last, end)
        if hi < lo:
            continue
        ax.axvspan(
            float(date2num(np.datetime64(lo) - one)),
            float(date2num(np.datetime64(hi) + one)),
            color=_WINDOW_COLOUR,
            alpha=0.15,
            lw=0,
            label=None if labelled else "absolute time window",
        )
        labelled = True


def no_target_png(message: str) -> bytes:
    """A small PNG (4 x 1 inches) saying why there is no plot, e.g. no coordinates yet."""
    fig = Figure(figsize=(4.0, 1.0), dpi=_DPI)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, color="0.3", wrap=True)
    return _png(fig)
