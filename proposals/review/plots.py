"""The pressure plot of the telescope ranking page (matplotlib, Agg, no pyplot)."""

import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_WIDTH_IN = 6.5
_DPI = 120


def pressure_png(pressure: dict[str, float]) -> bytes:
    """Horizontal bars of requested / available time per key (telescopes, then "category X"),
    with the line at 1 where demand equals supply. Infinite pressure (time asked where none
    is available) is drawn as a hatched bar at the axis end, labelled "no time available"."""
    keys = sorted(pressure, key=lambda k: (k.startswith("category "), k))
    finite = [pressure[k] for k in keys if math.isfinite(pressure[k])]
    top = max([1.0, *finite]) * 1.15
    fig = Figure(figsize=(_WIDTH_IN, max(1.6, 0.35 * len(keys) + 1.0)), dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for y, key in enumerate(keys):
        value = pressure[key]
        infinite = not math.isfinite(value)
        colour = "#8a8f98" if key.startswith("category ") else "#2f5d8a"
        ax.barh(
            y,
            top if infinite else value,
            color="white" if infinite else colour,
            edgecolor=colour,
            hatch="//" if infinite else None,
        )
        label = "no time available" if infinite else f"{value:.2f}"
        ax.text(min(value, top) if not infinite else top * 0.02, y, f" {label}", va="center")
    ax.axvline(1.0, color="#b03030", lw=1, ls="--")
    ax.set_yticks(range(len(keys)), keys)
    ax.invert_yaxis()
    ax.set_xlim(0, top)
    ax.set_xlabel("pressure (requested / available time)")
    if not keys:
        ax.text(0.5, 0.5, "nothing requested", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
