"""The one adapter between the sky model (:mod:`dataflow.astro`) and the scheduler.

Everything astronomical the scheduler needs is per-night arrays: night length, moon
illumination and, per target, the hours it is observable below its airmass limit. This module
asks :func:`dataflow.astro.visibility.nightly_visibility` for them; the rest of the package
only sees numpy arrays, so tests can build problems by hand without astropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from dataflow.astro.site import Site


@dataclass(frozen=True, eq=False)
class SkyArrays:
    """Per-night sky of a period for a list of targets.

    Attributes
    ----------
    dates : tuple[date, ...]
        (D,) local evening dates.
    dark_hours : numpy.ndarray
        (D,) astronomical night length, hours.
    moon_fli : numpy.ndarray
        (D,) fraction of lunar illumination at mid-night.
    target_hours : numpy.ndarray
        (N, D) hours each target is below its airmass limit during astronomical night.
    """

    dates: tuple[date, ...]
    dark_hours: np.ndarray
    moon_fli: np.ndarray
    target_hours: np.ndarray

    def run_hours(self, targets: Sequence[int] | NDArray[np.intp]) -> np.ndarray:
        """(D,) visible hours of a run observing ``targets`` (indices into the target list):
        their summed hours, capped at the night length (targets are observed in turn)."""
        total: np.ndarray = self.target_hours[np.asarray(targets, dtype=int)].sum(axis=0)
        hours: np.ndarray = np.minimum(total, self.dark_hours)
        return hours


def sky_arrays(
    site: Site,
    ra_deg: np.ndarray,
    dec_deg: np.ndarray,
    start: date,
    end: date,
    max_airmass: float | np.ndarray,
    step_minutes: float = 15,
) -> SkyArrays:
    """Night lengths, moon FLI and target visibility for the nights ``start``..``end``.

    Parameters
    ----------
    site : Site
    ra_deg, dec_deg : numpy.ndarray
        (N,) ICRS target coordinates, degrees.
    start, end : date
        First and last local evening of the period (inclusive, as :func:`nights`).
    max_airmass : float or numpy.ndarray
        Airmass limit, one or per target.
    step_minutes : float
        Time sampling of the visibility computation, minutes.
    """
    from dataflow.astro.visibility import nightly_visibility

    vis = nightly_visibility(
        site,
        np.asarray(ra_deg, dtype=float),
        np.asarray(dec_deg, dtype=float),
        start,
        end,
        max_airmass,
        step_minutes=step_minutes,
    )
    return SkyArrays(
        dates=tuple(vis.dates),
        dark_hours=np.asarray(vis.dark_hours, dtype=float),
        moon_fli=np.asarray(vis.moon_fli, dtype=float),
        target_hours=np.asarray(vis.hours, dtype=float),
    )
