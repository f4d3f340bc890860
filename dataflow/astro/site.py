"""Observing sites from our own data, never from astropy's online site registry."""

from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
from astropy.coordinates import EarthLocation

from dataflow.astro import offline  # noqa: F401  (configures astropy offline on import)


@dataclass(frozen=True)
class Site:
    """A site on the WGS84 ellipsoid.

    Parameters
    ----------
    name : str
    latitude_deg : float
        Geodetic latitude, degrees, north positive.
    longitude_deg : float
        Geodetic longitude, degrees, east positive.
    height_m : float
        Height above the ellipsoid, metres.
    timezone : str
        IANA time zone name, used only when rendering local times.
    """

    name: str
    latitude_deg: float
    longitude_deg: float
    height_m: float
    timezone: str = "UTC"

    @cached_property
    def location(self) -> EarthLocation:
        return EarthLocation.from_geodetic(
            lon=self.longitude_deg * u.deg,
            lat=self.latitude_deg * u.deg,
            height=self.height_m * u.m,
        )


PARANAL = Site(
    "Paranal",
    latitude_deg=-24.6272,
    longitude_deg=-70.4042,
    height_m=2635.0,
    timezone="America/Santiago",
)
