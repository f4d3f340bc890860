"""The review's available hours come from the observatory calendar
(``scheduling.CalendarNight``, one row per technical or closed night) instead of per-period
counts. The counts are dropped, not converted: they name no dates, and invented dates would
also reach the long-term scheduler."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("proposals", "0003_review_and_allocation"),
    ]

    operations = [
        migrations.DeleteModel(
            name="TelescopeAvailability",
        ),
    ]
