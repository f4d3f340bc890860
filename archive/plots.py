"""The data transfer monitor's plot: files per night, stacked by instrument, quarantined ones
marked (matplotlib, Agg, no pyplot; an SVG string to inline in the page, no CDN)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from archive.selectors_monitor import NightRow


def transfers_svg(rows: Sequence[NightRow]) -> str:
    """Stacked bars of the files archived per night and instrument, the quarantined as a line
    above; an SVG document (empty string without rows)."""
    dated = [r for r in rows if r.night is not None]
    if not dated:
        return ""
    nights = sorted({r.night for r in dated if r.night is not None})
    instruments = sorted({r.instrument or "?" for r in dated})
    ingested: dict[str, list[int]] = defaultdict(lambda: [0] * len(nights))
    in_flight = [0] * len(nights)
    quarantined = [0] * len(nights)
    for row in dated:
        i = nights.index(row.night)  # type: ignore[arg-type]
        ingested[row.instrument or "?"][i] += row.ingested
        in_flight[i] += row.waiting + row.ingesting
        quarantined[i] += row.quarantined
    figure = Figure(figsize=(8, 2.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    x = list(range(len(nights)))
    bottom = [0] * len(nights)
    for instrument in instruments:
        heights = ingested[instrument]
        axes.bar(x, heights, bottom=bottom, label=instrument, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    if any(in_flight):
        axes.bar(
            x, in_flight, bottom=bottom, label="in flight", width=0.8, color="none",
            edgecolor="0.3", hatch="//",
        )  # fmt: skip
    if any(quarantined):
        axes.plot(x, quarantined, "o-", color="#b00020", label="quarantined")
    axes.set_xticks(x, [n.isoformat() for n in nights], rotation=45, ha="right", fontsize=7)
    axes.set_ylabel("files")
    axes.legend(fontsize=7, ncols=min(6, len(instruments) + 2), loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # inline: without the XML declaration and doctype
