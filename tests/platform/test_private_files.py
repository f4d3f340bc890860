"""Uploaded and generated files are private: no public URL serves them, not even in DEBUG.

Final PDFs and figures are reachable only through the proposal's views, which apply the
proposal's visibility rules (anonymous users are sent to the login page).
"""

import importlib
import io
from collections.abc import Iterator

import pytest
from django.conf import LazySettings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import clear_url_caches
from PIL import Image

from dataflow import urls as project_urls
from proposals import services
from proposals.models import Figure, Proposal


@pytest.fixture
def debug_urlconf(settings: LazySettings) -> Iterator[None]:
    """The project's URLconf as ``make run`` builds it: imported with DEBUG on."""
    debug = settings.DEBUG
    settings.DEBUG = True
    importlib.reload(project_urls)
    clear_url_caches()
    yield
    settings.DEBUG = debug
    importlib.reload(project_urls)
    clear_url_caches()


@pytest.fixture
def figure(draft: Proposal) -> Figure:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buf, format="PNG")
    content = buf.getvalue()
    upload = SimpleUploadedFile("dust.png", content, content_type="image/png")
    return services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=upload, size=len(content))


@pytest.fixture
def submitted(draft: Proposal, figure: Figure, django_capture_on_commit_callbacks) -> Proposal:
    """``draft`` with its ``figure`` submitted by its PI, the final PDF rendered and stored."""
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    draft.refresh_from_db()
    assert draft.final_pdf
    return draft


def assert_not_served(response) -> None:
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 404
    assert not getattr(response, "streaming", False)


def test_no_media_file_is_served_from_its_path_even_with_debug(
    debug_urlconf: None, submitted: Proposal, figure: Figure, astronomer: User
) -> None:
    # given files on disk under MEDIA_ROOT
    paths = [f"/media/{submitted.final_pdf.name}", f"/media/{figure.image.name}"]
    assert submitted.final_pdf.name.startswith("proposals/final/")
    assert figure.image.name.startswith(f"proposals/figures/{submitted.pk}/")
    owner = Client()
    owner.force_login(astronomer)
    # when / then: anonymous users, and even the owner, get nothing from the file's path
    for path in paths:
        assert_not_served(Client().get(path))
        assert_not_served(owner.get(path))


def test_the_owner_gets_the_final_pdf_through_its_view(
    client: Client, submitted: Proposal, astronomer: User, other_astronomer: User
) -> None:
    # given
    url = f"/proposals/{submitted.pk}/pdf/"
    stored = submitted.final_pdf.open("rb").read()
    # when
    anonymous = Client().get(url)
    client.force_login(astronomer)
    owner = client.get(url)
    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert owner.status_code == 200
    assert owner["Content-Type"] == "application/pdf"
    assert owner.getvalue() == stored
    client.force_login(other_astronomer)
    assert client.get(url).status_code == 404


def test_the_owner_gets_a_figure_through_its_view(
    client: Client, figure: Figure, astronomer: User
) -> None:
    # given
    url = f"/proposals/{figure.proposal_id}/figures/{figure.pk}/"
    # when
    anonymous = Client().get(url)
    client.force_login(astronomer)
    owner = client.get(url)
    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert owner.status_code == 200
    assert owner["Content-Type"] == "image/png"
