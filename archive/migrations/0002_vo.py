"""The VO layer's database objects (filled in by the VO work: pgSphere, ivoa.obscore, TAP_SCHEMA)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = []  # type: ignore[var-annotated]
