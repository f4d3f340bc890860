"""Keep astropy offline: bundled IERS tables only, never a download.

Two settings are needed (see shared/DOMAIN.md): with ``auto_download`` off alone, every AltAz
transform raises ``ValueError`` once the bundled IERS-A table is ~30 days old, so the project
would break a month after install. ``auto_max_age = None`` accepts the stale table; the
resulting polar-motion / UT1 error is far below a millidegree, harmless for scheduling.
"""

from astropy.utils import iers


def configure_offline() -> None:
    """Forbid astropy's IERS downloads and accept the bundled (possibly stale) tables."""
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"


configure_offline()
