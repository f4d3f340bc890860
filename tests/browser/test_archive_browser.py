"""The archive in a real browser (issue 13): an astronomer searches by target name, opens a
file's header view, adds files to the basket, requests their download, sees the request's
progress reach "ready" and downloads the zip with the files' bytes."""

import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from archive.models import ArchiveFile, Category
from tests.archive.make_files import make_file, programme
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser]


@pytest.fixture
def files(transactional_db: None, settings: Any, tmp_path: Path) -> list[ArchiveFile]:
    """Ada's two proprietary NGC 253 frames and a public bias, with bytes in storage."""
    settings.ARCHIVE_ROOT = tmp_path
    ada = UserFactory.create(username="ada", first_name="Ada", last_name="Lovelace")
    proposal = programme(ada)
    frames = [make_file(proposal=proposal, write=True, dp_id=f"FORS2.ngc253.{i}") for i in (1, 2)]
    make_file(proposal=proposal, write=True, dp_id="FORS2.field", object_name="field", ra_deg=40)
    make_file(category=Category.CALIB, dpr_type="BIAS", write=True, dp_id="FORS2.bias")
    return frames


def _log_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def test_astronomer_searches_adds_to_basket_requests_and_downloads_the_zip(
    page: Any, files: list[ArchiveFile], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    # given
    _log_in(page, "ada")
    # when: a search by target name from the nav's Archive link
    page.click("#nav-archive")
    page.fill("#id_target", "NGC 253")
    page.click("#search-button")
    # then: the two frames, not the field 30° away nor the bias without a pointing
    rows = page.locator("#results-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#result-count")).to_have_text("2")
    # when: the header view of one
    page.click(f"text={files[0].dp_id}")
    # then
    expect(page.locator("#header-cards")).to_contain_text(f"ARCFILE = '{files[0].arcfile}'")
    expect(page.locator("#header-cards")).to_contain_text("CHECKSUM=")
    # when: into the basket from its page and from the results table
    page.click("#add-to-basket")
    expect(page.locator(".messages")).to_contain_text("1 file added to the basket")
    page.goto("/archive/?target=NGC+253")
    page.click(f"[data-testid='add-{files[1].dp_id}']")
    page.click("#basket-link")
    expect(page.locator("#basket-table tbody tr")).to_have_count(2)
    page.click("#request-download")
    # then: the request's progress reaches ready with both files prepared
    box = page.locator("#request-progress")
    expect(box).to_have_attribute("data-status", "ready")
    expect(page.locator("[data-testid=request-done]")).to_have_text("2")
    expect(page.locator("[data-testid=request-bar]")).to_have_attribute("value", "2")
    # when: the zip
    with page.expect_download() as info:
        page.click("#download-zip")
    saved = tmp_path / "request.zip"
    info.value.save_as(saved)
    # then
    root = Path(django_settings.ARCHIVE_ROOT)
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == sorted(f.arcfile for f in files)
        for f in files:
            assert archive.read(f.arcfile) == (root / f.storage_path).read_bytes()
