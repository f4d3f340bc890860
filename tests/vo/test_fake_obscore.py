"""The synthetic rows the VO benchmark loads: written by either database path, numbered on
from what a seed already has, half the science proprietary, and found by a cone search."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command

from archive.access import readable_files
from archive.cone import cone
from archive.models import ArchiveFile, Category


@pytest.mark.django_db
def test_fake_rows_are_written_numbered_and_searchable() -> None:
    # when: two runs of one seed
    call_command("archive_fake_obscore", count=300, seed=3)
    call_command("archive_fake_obscore", count=200, seed=3)
    # then
    rows = ArchiveFile.objects.filter(dp_id__startswith="FAKE.3.")
    assert rows.count() == 500
    assert rows.filter(dp_id="FAKE.3.00000499").exists()
    public = readable_files(AnonymousUser()).filter(dp_id__startswith="FAKE.3.")
    science = rows.filter(category=Category.SCIENCE)
    assert 0 < public.count() < 500
    assert 0 < science.exclude(pk__in=public.values("pk")).count() < science.count()
    some = rows.exclude(ra_deg=None).first()
    assert some is not None and some.ra_deg is not None and some.dec_deg is not None
    assert some in cone(rows, some.ra_deg, some.dec_deg, 0.01)
    assert isinstance(some.footprint, list) and len(some.footprint) == 4


@pytest.mark.django_db
def test_fake_rows_are_deleted_by_seed() -> None:
    call_command("archive_fake_obscore", count=20, seed=4)
    call_command("archive_fake_obscore", delete=True, seed=4)
    assert not ArchiveFile.objects.filter(dp_id__startswith="FAKE.4.").exists()
