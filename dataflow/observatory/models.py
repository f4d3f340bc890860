"""Observatory configuration: data, not code. Another observatory loads its own fixture."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from dataflow.astro.site import Site as AstroSite


class Site(models.Model):
    name = models.CharField(max_length=100, unique=True)
    latitude_deg = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude_deg = models.FloatField(
        validators=[MinValueValidator(-180), MaxValueValidator(180)], help_text="East positive."
    )
    height_m = models.FloatField()
    timezone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return self.name

    def as_astro(self) -> AstroSite:
        return AstroSite(
            name=self.name,
            latitude_deg=self.latitude_deg,
            longitude_deg=self.longitude_deg,
            height_m=self.height_m,
            timezone=self.timezone,
        )


class Telescope(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="telescopes")
    name = models.CharField(max_length=50, unique=True)
    aperture_m = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Instrument(models.Model):
    telescope = models.ForeignKey(Telescope, on_delete=models.PROTECT, related_name="instruments")
    name = models.CharField(max_length=50)
    description = models.CharField(max_length=200, blank=True)
    offered_sm = models.BooleanField("offered in service mode", default=True)
    offered_vm = models.BooleanField("offered in visitor mode", default=True)
    observing_modes = models.JSONField(default=list, blank=True, help_text="e.g. imaging, LSS")

    class Meta:
        ordering = ["telescope__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["telescope", "name"], name="instrument_unique_per_telescope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.telescope.name})"

    def offered_in(self, mode: str) -> bool:
        return {"SM": self.offered_sm, "VM": self.offered_vm}.get(mode, False)
