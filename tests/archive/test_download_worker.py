"""A download request prepared by a real Celery worker on the Redis broker, sharing the
PostgreSQL test database and archive storage: the request page's API shows the progress
reaching "ready" and the zip then holds the files' bytes."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from archive.models import DownloadRequest, DownloadStatus
from tests.archive.make_files import make_file, programme
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.integration.conftest import NEEDS_REDIS, running_worker

pytestmark = [pytest.mark.services, NEEDS_REDIS]

WAIT_S = 120


@pytest.fixture
def worker(
    transactional_db: None, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A running worker whose archive storage is this test's (set before it starts: the
    worker reads it from its environment)."""
    root = tmp_path / "archive"
    root.mkdir()
    monkeypatch.setenv("DATAFLOW_ARCHIVE_ROOT", str(root))
    settings.ARCHIVE_ROOT = root
    mail = tmp_path / "mail"
    mail.mkdir()
    with running_worker(Path(settings.MEDIA_ROOT), mail) as proc:
        yield proc


def test_a_worker_prepares_a_download_request_and_the_zip_holds_the_files(worker: Any) -> None:
    # given: three frames of the PI's programme in storage (committed: the worker sees them)
    pi = UserFactory.create()
    proposal = programme(pi)
    files = [make_file(proposal=proposal, write=True) for _ in range(3)]
    client = bearer_client(pi)
    # when
    created = client.post(
        "/api/v1/archive/requests/", {"files": [f.pk for f in files]}, format="json"
    )
    # then: the worker prepares it; the API shows the progress until it is ready
    assert created.status_code == 201
    url = f"/api/v1/archive/requests/{created.json()['id']}/"
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + WAIT_S
    while True:
        state = client.get(url).json()
        seen.append((state["status"], state["done"]))
        if state["status"] in (DownloadStatus.READY, DownloadStatus.FAILED):
            break
        if worker.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{worker.communicate()[0]}")
        if time.monotonic() > deadline:
            pytest.fail(f"Not prepared within {WAIT_S} s: {seen[-5:]}")
        time.sleep(0.2)
    assert seen[-1] == ("ready", 3), seen
    dones = [done for _, done in seen]
    assert dones == sorted(dones)  # the progress never goes back
    request = DownloadRequest.objects.get(pk=created.json()["id"])
    web = Client()
    web.force_login(pi)
    zipped: Any = web.get(f"/archive/requests/{request.pk}/download.zip")
    root = Path(django_settings.ARCHIVE_ROOT)
    with zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))) as archive:
        for f in files:
            assert archive.read(f.arcfile) == (root / f.storage_path).read_bytes()
