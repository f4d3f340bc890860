"""Seeded distributions of a realistic observatory period, shared by the demo data
(``manage.py seed_demo``), the synthetic generators of the scheduling engines and the
benchmarks. Pure numpy: no Django.

Every draw takes a ``numpy.random.Generator`` so that a seed reproduces a whole period.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")

CATEGORIES = ("A", "B", "C", "D")
CATEGORY_WEIGHTS = (0.2, 0.3, 0.25, 0.25)
CATEGORY_NAMES = {
    "A": "Cosmology",
    "B": "Galaxies and galactic nuclei",
    "C": "Interstellar medium, star formation and planetary systems",
    "D": "Stellar evolution",
}
PROPOSAL_TYPES = ("normal", "large", "too", "ddt", "calibration")
PROPOSAL_TYPE_WEIGHTS = (0.85, 0.05, 0.04, 0.03, 0.03)

# Moon requirement of a run, as max FLI (ESO's d / g / n convention, see DOMAIN.md).
MOON_FLI = {"dark": 0.4, "grey": 0.7, "bright": 1.0}
MOON_WEIGHTS = {"dark": 0.5, "grey": 0.25, "bright": 0.25}
SEEING_CHOICES = (0.6, 0.8, 1.0, 1.2, 1.5, 2.0)
SEEING_WEIGHTS = (0.08, 0.22, 0.3, 0.2, 0.12, 0.08)
TRANSPARENCY = ("photometric", "clear", "thin_cirrus", "variable")
TRANSPARENCY_WEIGHTS = (0.2, 0.45, 0.25, 0.1)
AIRMASS_CHOICES = (1.2, 1.4, 1.5, 1.6, 1.8, 2.0, 2.5)
AIRMASS_WEIGHTS = (0.05, 0.15, 0.2, 0.2, 0.2, 0.15, 0.05)
VM_FRACTION = 1 / 3
RANK_CLASSES = ("A", "B", "C")
RANK_CLASS_WEIGHTS = (0.3, 0.45, 0.25)

# Galactic north pole (J2000), for drawing targets concentrated on the plane.
_NGP_RA = np.radians(192.85948)
_NGP_DEC = np.radians(27.12825)
_L_NCP = np.radians(122.93192)


def target_coordinates(
    rng: np.random.Generator, n: int, *, plane_fraction: float = 0.35, max_dec_deg: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` target positions (RA, Dec in degrees, ICRS) for a southern site.

    A mix of an isotropic population and a Galactic-plane one (|b| of a few degrees, more
    towards the bulge), limited to ``dec <= max_dec_deg`` as a Paranal call would be.
    """
    ra = np.empty(n)
    dec = np.empty(n)
    filled = 0
    while filled < n:
        m = 2 * (n - filled) + 16
        in_plane = rng.random(m) < plane_fraction
        # isotropic
        r_iso = rng.uniform(0.0, 360.0, m)
        d_iso = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, m)))
        # Galactic plane: l concentrated towards the centre, b ~ N(0, 4 deg)
        gl = np.radians(np.mod(rng.normal(0.0, 60.0, m), 360.0))
        gb = np.radians(rng.normal(0.0, 4.0, m))
        r_gal, d_gal = _galactic_to_icrs(gl, gb)
        r = np.where(in_plane, r_gal, r_iso)
        d = np.where(in_plane, d_gal, d_iso)
        keep = d <= max_dec_deg
        take = min(n - filled, int(keep.sum()))
        ra[filled : filled + take] = r[keep][:take]
        dec[filled : filled + take] = d[keep][:take]
        filled += take
    return ra, dec


def _galactic_to_icrs(gl: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sin_d = np.sin(gb) * np.sin(_NGP_DEC) + np.cos(gb) * np.cos(_NGP_DEC) * np.cos(_L_NCP - gl)
    dec = np.arcsin(np.clip(sin_d, -1.0, 1.0))
    y = np.cos(gb) * np.sin(_L_NCP - gl)
    x = np.sin(gb) * np.cos(_NGP_DEC) - np.cos(gb) * np.sin(_NGP_DEC) * np.cos(_L_NCP - gl)
    ra = np.mod(_NGP_RA + np.arctan2(y, x), 2 * np.pi)
    return np.degrees(ra), np.degrees(dec)


def grades(rng: np.random.Generator, n: int) -> np.ndarray:
    """Panel grades, 1.0 (best) .. 5.0, centred around 2.5 with a spread."""
    return np.round(np.clip(rng.normal(2.6, 0.7, n), 1.0, 5.0), 1)


def choice(
    rng: np.random.Generator, options: Sequence[T], weights: Sequence[float], n: int
) -> list[T]:
    p = np.asarray(weights, dtype=float)
    return [options[i] for i in rng.choice(len(options), size=n, p=p / p.sum())]


@dataclass(frozen=True)
class RunDraw:
    """One observing run's Phase 1 request, before any Django model exists."""

    mode: str  # "SM" or "VM"
    hours: float  # SM hours requested (0 for VM)
    nights: float  # VM nights requested (whole or half; 0 for SM)
    moon: str  # "dark" | "grey" | "bright"
    max_fli: float
    seeing_arcsec: float
    transparency: str
    max_airmass: float
    n_targets: int


def runs(rng: np.random.Generator, n: int) -> list[RunDraw]:
    """Draw ``n`` runs: about a third VM (1-5 nights, some half nights), the rest SM hours."""
    vm = rng.random(n) < VM_FRACTION
    nights = np.where(rng.random(n) < 0.15, 0.5, rng.choice([1, 1, 2, 2, 3, 3, 4, 5], size=n))
    hours = np.round(np.clip(rng.lognormal(np.log(8.0), 0.8, n), 0.5, 120.0), 1)
    moon = choice(rng, tuple(MOON_WEIGHTS), tuple(MOON_WEIGHTS.values()), n)
    seeing = choice(rng, SEEING_CHOICES, SEEING_WEIGHTS, n)
    transp = choice(rng, TRANSPARENCY, TRANSPARENCY_WEIGHTS, n)
    airmass = choice(rng, AIRMASS_CHOICES, AIRMASS_WEIGHTS, n)
    n_targets = rng.choice([1, 1, 1, 2, 2, 3, 4, 6], size=n)
    return [
        RunDraw(
            mode="VM" if vm[i] else "SM",
            hours=0.0 if vm[i] else float(hours[i]),
            nights=float(nights[i]) if vm[i] else 0.0,
            moon=moon[i],
            max_fli=MOON_FLI[moon[i]],
            seeing_arcsec=float(seeing[i]),
            transparency=transp[i],
            max_airmass=float(airmass[i]),
            n_targets=int(n_targets[i]),
        )
        for i in range(n)
    ]
