"""Print the measured max |difference| from astropy/astroplan for docs/astro.md.

Run: ``.venv/bin/python -m tests.astro.report_tolerances``
"""

import datetime
import time
import warnings

import astropy.units as u
import numpy as np
from astroplan import Observer, moon_illumination
from astropy.time import Time

from dataflow.astro.geometry import airmass, moon_separation_deg, target_altaz
from dataflow.astro.nights import SUN_HORIZON_DEG, night_table
from dataflow.astro.site import PARANAL
from dataflow.astro.sky import sky_samples
from dataflow.astro.visibility import nightly_visibility
from tests.astro.conftest import make_reference


def _arcsec(delta_deg: np.ndarray) -> float:
    return float(np.abs(delta_deg).max() * 3600.0)


def main() -> None:
    ref = make_reference()
    sky = sky_samples(PARANAL, ref.times)
    alt, az = target_altaz(PARANAL, sky, ref.ra_deg, ref.dec_deg)
    alt = np.diagonal(alt)
    ours, theirs = airmass(alt), airmass(ref.target_alt_deg)
    low = (theirs < 3.0) & (ours < 3.5)
    sep = np.diagonal(moon_separation_deg(sky, ref.ra_deg, ref.dec_deg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fli = np.asarray(moon_illumination(ref.times))
    print(f"pairs: {ref.times.size}")
    rows = {
        "target altitude": _arcsec(alt - ref.target_alt_deg),
        "sun altitude": _arcsec(sky.sun_alt_deg - ref.sun_alt_deg),
        "moon altitude": _arcsec(sky.moon_alt_deg - ref.moon_alt_deg),
        "moon separation": _arcsec(sep - ref.moon_separation_deg),
    }
    for name, value in rows.items():
        print(f"{name:17s} max |d| = {value:.2f} arcsec")
    print(f"airmass (KY, X<3) max |d| = {np.abs(ours - theirs)[low].max():.2e}")
    print(f"FLI               max |d| = {np.abs(sky.moon_fli - fli).max():.2e}")
    lst = (sky.lst_deg - ref.lst_deg + 180.0) % 360.0 - 180.0
    print(f"LST              max |d| = {np.abs(lst).max() * 3600:.4f} arcsec")

    start, end = datetime.date(2026, 1, 5), datetime.date(2026, 12, 31)
    table = night_table(PARANAL, start, end)
    pick = np.arange(0, len(table.dates), 23)
    noon = Time(table.noon_jd[pick], format="jd", scale="utc")
    observer = Observer(location=PARANAL.location)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = {
            "sunset": observer.sun_set_time(noon, which="next", horizon=SUN_HORIZON_DEG * u.deg),
            "astronomical_dusk": observer.twilight_evening_astronomical(noon, which="next"),
            "astronomical_dawn": observer.twilight_morning_astronomical(noon, which="next"),
            "civil_dawn": observer.twilight_morning_civil(noon, which="next"),
        }
    for name, value in pairs.items():
        delta = np.abs(getattr(table, name + "_jd")[pick] - value.jd) * 86400.0
        print(f"{name:17s} max |d| = {delta.max():.1f} s over {pick.size} nights")

    rng = np.random.default_rng(2)
    ra, dec = rng.uniform(0, 360, 3000), np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))
    nightly_visibility(PARANAL, ra[:1], dec[:1], start, start, 2.0)
    t0 = time.perf_counter()
    nightly_visibility(PARANAL, ra, dec, datetime.date(2027, 4, 1), datetime.date(2027, 9, 30), 2.0)
    print(f"nightly_visibility 3000 targets x 183 nights: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
