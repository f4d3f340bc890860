"""Start the review of every period whose call deadline has passed (run it from cron or a
Celery beat schedule, e.g. every 10 minutes); staff may also start a review earlier from the
review overview. Idempotent: a period already under review is left alone."""

from typing import Any

from django.core.management import BaseCommand
from django.utils import timezone

from proposals.models import Period
from proposals.review import services as rv


class Command(BaseCommand):
    help = "Put the submitted proposals of every period past its deadline under review."

    def handle(self, *args: Any, **opts: Any) -> None:
        now = timezone.now()
        for period in Period.objects.filter(deadline__lte=now, review_setup__started_at=None):
            moved = rv.review_start(period_id=period.pk, actor=None, now=now)
            self.stdout.write(f"{period}: {moved} proposals under review")
