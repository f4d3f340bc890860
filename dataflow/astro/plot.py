"""A small PNG of hours observable per night, for the proposal PDF (matplotlib, Agg, no pyplot)."""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from dataflow.astro.visibility import NightlyVisibility

#: Targets drawn as labelled lines; the rest are drawn as thin grey lines under one label.
MAX_LABELLED = 8
_WIDTH_IN = 6.5
_HEIGHT_IN = 3.0
_DPI = 150


def visibility_plot_png(vis: NightlyVisibility, labels: list[str], title: str) -> bytes:
    """Render hours observable per night for each target as a PNG.

    Parameters
    ----------
    vis : NightlyVisibility
        N targets over D nights.
    labels : list of str
        (N,) target names (any Unicode the DejaVu Sans font covers).
    title : str
        Figure title, e.g. the programme id and the airmass limit.

    Returns
    -------
    bytes
        A PNG, 6.5 x 3.0 inches at 150 dpi. Shows the astronomical night length (dashed) and
        its moonless part (grey fill); targets beyond the first ``MAX_LABELLED`` are drawn
        thin and grey with a single "other targets" legend entry.
    """
    if len(labels) != vis.hours.shape[0]:
        raise ValueError("one label per target is required")
    fig = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    dates = np.array(vis.dates, dtype="datetime64[D]")
    if dates.size:
        moonless = np.clip(vis.dark_hours - vis.moon_up_dark_hours, 0.0, None)
        ax.fill_between(dates, 0, moonless, color="0.9", step="mid", label="dark, Moon down")
        ax.plot(dates, vis.dark_hours, color="0.3", ls="--", lw=1, label="astronomical night")
        for i in range(MAX_LABELLED, len(labels)):
            extra = f"other targets ({len(labels) - MAX_LABELLED})"
            ax.plot(
                dates, vis.hours[i], color="0.6", lw=0.5, label=extra if i == MAX_LABELLED else None
            )
        for i, label in enumerate(labels[:MAX_LABELLED]):
            ax.plot(dates, vis.hours[i], lw=1.4, label=label)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_xlim(dates[0], dates[-1])
    top = float(np.max(vis.dark_hours, initial=0.0))
    ax.set_ylim(0, max(1.0, top * 1.08))
    ax.set_ylabel("hours observable per night", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
