"""Calendar picture of a solved period: telescopes x nights, coloured by what each does.

One panel per stretch of nights (about three months); in each, a row per telescope and a
moon row on top. Every night is a cell whose left half is the evening (first half-night) and
right half the morning. VM runs are blocks coloured by rank class and labelled with their
id when there is room; SM time, technical and closed nights have their own colours; the
moon row shows each night's illumination (black = new, white = full) and marks the dark
nights (FLI <= 0.4, ESO's "d") under the disc.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from scheduling.engine.longterm.problem import Problem  # noqa: E402
from scheduling.engine.longterm.solution import (  # noqa: E402
    CLOSED,
    FREE,
    SM,
    TECH,
    Solution,
    night_labels,
)

CLASS_COLOURS = {"A": "#1b3f8b", "B": "#3c8dd6", "C": "#9cc9ef"}
SM_COLOUR = "#b5dfa6"
TECH_COLOUR = "#b9b9b9"
CLOSED_COLOUR = "#555555"
FREE_COLOUR = "#ffffff"
DARK_FLI = 0.4
NIGHTS_PER_PANEL = 92


def render_calendar(
    problem: Problem,
    solution: Solution,
    path: str | Path,
    *,
    title: str | None = None,
    nights_per_panel: int = NIGHTS_PER_PANEL,
    dpi: int = 150,
) -> Path:
    """Draw the schedule of ``solution`` to a PNG at ``path`` and return the path."""
    labels = night_labels(problem, solution)
    d = problem.n_nights
    n_tel = len(problem.telescopes)
    panels = [(a, min(d, a + nights_per_panel)) for a in range(0, d, nights_per_panel)]
    row_h = 0.42
    panel_h = (n_tel + 1.6) * row_h + 0.35
    fig_h = panel_h * len(panels) + 1.4
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(16, fig_h), squeeze=False, gridspec_kw={"hspace": 0.3}
    )
    for ax, (a, b) in zip(axes[:, 0], panels, strict=True):
        _panel(ax, problem, solution, labels, a, b, nights_per_panel)
    handles: list[Artist] = [
        Patch(facecolor=c, edgecolor="none", label=f"VM class {k}")
        for k, c in CLASS_COLOURS.items()
    ]
    handles += [
        Patch(facecolor=SM_COLOUR, edgecolor="none", label="SM (queue) time"),
        Patch(facecolor=TECH_COLOUR, edgecolor="#888888", hatch="////", label="technical"),
        Patch(facecolor=CLOSED_COLOUR, edgecolor="none", label="closed"),
        Patch(facecolor=FREE_COLOUR, edgecolor="#bbbbbb", label="free"),
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            markerfacecolor="#777777",
            markeredgecolor="#444444",
            label="moon (shade = illumination)",
        ),
        Line2D(
            [],
            [],
            marker="s",
            ls="",
            markersize=3,
            color="#1b1b1b",
            label=f"dark night (FLI <= {DARK_FLI})",
        ),
    ]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 0.0),
    )
    if title is None:
        info = solution.info
        gap = ""
        if info.gap is not None:
            gap = f", gap {100 * info.gap:.3f} %" if info.gap >= 1e-5 else f", gap {info.gap:.1e}"
        title = (
            f"Long-term schedule {problem.dates[0].isoformat()} .. {problem.dates[-1].isoformat()}"
            f" — {len(solution.vm_starts)} VM runs placed, {info.solver} {info.status}{gap}"
        )
    fig.suptitle(title, fontsize=12, y=1 - 0.25 / fig_h)
    fig.subplots_adjust(left=0.05, right=0.99, top=1 - 0.6 / fig_h, bottom=0.9 / fig_h)
    out = Path(path)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _panel(
    ax: plt.Axes,
    problem: Problem,
    solution: Solution,
    labels: dict[str, list[list[str]]],
    a: int,
    b: int,
    width: int,
) -> None:
    tels = [t.name for t in problem.telescopes]
    n_tel = len(tels)
    moon_y = n_tel + 0.1
    for row, tel in enumerate(tels):
        y = n_tel - 1 - row
        for night in range(a, b):
            for h in (0, 1):
                lab = labels[tel][night][h]
                x = night + 0.5 * h
                if lab == SM:
                    ax.add_patch(Rectangle((x, y + 0.08), 0.5, 0.84, color=SM_COLOUR, lw=0))
                elif lab == TECH:
                    ax.add_patch(
                        Rectangle(
                            (x, y + 0.08),
                            0.5,
                            0.84,
                            facecolor=TECH_COLOUR,
                            edgecolor="#8a8a8a",
                            hatch="////",
                            lw=0,
                        )
                    )
                elif lab == CLOSED:
                    ax.add_patch(Rectangle((x, y + 0.08), 0.5, 0.84, color=CLOSED_COLOUR, lw=0))
                elif lab == FREE:
                    ax.add_patch(
                        Rectangle(
                            (x, y + 0.08),
                            0.5,
                            0.84,
                            facecolor=FREE_COLOUR,
                            edgecolor="#e4e4e4",
                            lw=0.3,
                        )
                    )
    for rid, start in solution.vm_starts.items():
        run = problem.run(rid)
        x0, x1 = start / 2, (start + run.slots) / 2
        if x1 <= a or x0 >= b:
            continue
        lo, hi = max(x0, a), min(x1, b)
        y = n_tel - 1 - tels.index(run.telescope)
        ax.add_patch(
            Rectangle(
                (lo, y + 0.08),
                hi - lo,
                0.84,
                facecolor=CLASS_COLOURS[run.rank_class],
                edgecolor="white",
                lw=0.8,
            )
        )
        if hi - lo >= 2:
            colour = "white" if run.rank_class != "C" else "#0b2450"
            ax.text(
                (lo + hi) / 2,
                y + 0.5,
                rid,
                ha="center",
                va="center",
                fontsize=5.5,
                color=colour,
                clip_on=True,
            )
    # moon: disc grey level = illumination; a dot under dark nights
    nights = np.arange(a, b)
    fli = problem.moon_fli[a:b]
    ax.scatter(
        nights + 0.5,
        np.full(len(nights), moon_y + 0.45),
        c=fli,
        cmap="gray",
        vmin=0,
        vmax=1,
        s=22,
        edgecolors="#444444",
        linewidths=0.4,
        zorder=3,
    )
    dark = nights[fli <= DARK_FLI]
    ax.scatter(
        dark + 0.5, np.full(len(dark), moon_y + 0.02), marker="s", s=3, color="#1b1b1b", zorder=3
    )
    ax.set_xlim(a, a + width)
    ax.set_ylim(-0.05, moon_y + 0.85)
    ax.set_yticks([n_tel - 1 - i + 0.5 for i in range(n_tel)] + [moon_y + 0.45])
    ax.set_yticklabels(tels + ["moon"], fontsize=9)
    ticks, tick_labels = _month_ticks(problem.dates, a, b)
    ax.set_xticks(ticks)
    ax.set_xticklabels(tick_labels, fontsize=8)
    for t in ticks:
        if problem.dates[int(t)].day == 1:
            ax.axvline(t, color="#d05050", lw=0.6, zorder=4, ymax=(n_tel) / (moon_y + 0.9))
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)


def _month_ticks(dates: tuple[date, ...], a: int, b: int) -> tuple[list[float], list[str]]:
    ticks, names = [], []
    for i in range(a, b):
        dd = dates[i]
        if dd.day in (1, 15) or i == a:
            ticks.append(float(i))
            names.append(f"{dd.day} {dd:%b}" if dd.day != 1 else f"1 {dd:%b %Y}")
    return ticks, names
