"""Downloads: access decided at download time (proprietary until the release date, calibrations
public at once, anonymous never gets proprietary bytes), the basket, download requests prepared
in the background and delivered as a streamed zip or a download script."""

import datetime
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from archive import delivery, downloads
from archive.downloads import download_request_prepare
from archive.models import (
    ArchiveEvent,
    ArchiveEventKind,
    BasketItem,
    Category,
    DataDelegate,
    DownloadRequest,
    DownloadStatus,
)
from proposals.models import CoInvestigator, Proposal
from tests.archive.make_files import make_file
from tests.conftest import bearer_client, logged_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("archive_in_tmp")]


def stored_bytes(archive_file: Any) -> bytes:
    return (Path(django_settings.ARCHIVE_ROOT) / archive_file.storage_path).read_bytes()


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# --- single files -----------------------------------------------------------------------------


def test_anonymous_visitors_never_get_proprietary_bytes(client: Client, proposal: Proposal) -> None:
    # given
    secret = make_file(proposal=proposal, write=True)
    # when
    page = client.get(f"/archive/files/{secret.pk}/download/")
    api = client.get(f"/api/v1/archive/files/{secret.pk}/download/")
    # then: the login page, a 401, and never the file's bytes
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert api.status_code == 401
    assert not getattr(page, "streaming", False) and not getattr(api, "streaming", False)
    assert stored_bytes(secret)[:80] not in page.content + api.content


def test_another_astronomer_is_refused_a_proprietary_file(proposal: Proposal) -> None:
    # given
    secret = make_file(proposal=proposal, write=True)
    other = UserFactory.create()
    # when
    page = logged_in(other).get(f"/archive/files/{secret.pk}/download/")
    api = bearer_client(other).get(f"/api/v1/archive/files/{secret.pk}/download/")
    # then
    assert page.status_code == 403 and api.status_code == 403
    assert "proprietary until" in api.json()["detail"]


def test_the_pi_and_the_co_investigators_download_a_proprietary_file(
    pi: User, proposal: Proposal
) -> None:
    # given
    secret = make_file(proposal=proposal, write=True)
    coi = UserFactory.create()
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    for user in (pi, coi):
        # when
        response = logged_in(user).get(f"/archive/files/{secret.pk}/download/")
        # then
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fits"
        assert secret.arcfile in response["Content-Disposition"]
        assert body(response) == stored_bytes(secret)


def test_a_download_refused_before_the_release_date_is_allowed_from_that_day(
    proposal: Proposal,
) -> None:
    # given: released on 2028-03-11
    secret = make_file(proposal=proposal, write=True, release_date=datetime.date(2028, 3, 11))
    other = bearer_client(UserFactory.create())
    url = f"/api/v1/archive/files/{secret.pk}/download/"
    # when
    with time_machine.travel(datetime.datetime(2028, 3, 10, 12, tzinfo=datetime.UTC), tick=False):
        before = other.get(url)
    with time_machine.travel(datetime.datetime(2028, 3, 11, 12, tzinfo=datetime.UTC), tick=False):
        on_the_day = other.get(url)
        anonymous = Client().get(f"/archive/files/{secret.pk}/download/")
    # then
    assert before.status_code == 403
    assert on_the_day.status_code == 200 and body(on_the_day) == stored_bytes(secret)
    assert anonymous.status_code == 200


def test_a_calibration_is_public_at_once(client: Client) -> None:
    # given: a bias ingested today, of no programme
    bias = make_file(category=Category.CALIB, dpr_type="BIAS", write=True)
    # when
    response = client.get(f"/api/v1/archive/files/{bias.pk}/download/")
    # then
    assert response.status_code == 200
    assert body(response) == stored_bytes(bias)


def test_a_file_missing_from_storage_is_a_404_not_a_crash(client: Client) -> None:
    # given
    bias = make_file(category=Category.CALIB)
    # when
    response = client.get(f"/archive/files/{bias.pk}/download/")
    # then
    assert response.status_code == 404


# --- basket and requests ----------------------------------------------------------------------


def test_the_basket_takes_files_and_gives_them_back(pi: User, proposal: Proposal) -> None:
    # given
    one, two = make_file(proposal=proposal), make_file(proposal=proposal)
    client = logged_in(pi)
    # when
    client.post("/archive/basket/add/", {"files": [one.pk, two.pk]})
    client.post("/archive/basket/add/", {"files": [one.pk]})  # again: no duplicate
    client.post("/archive/basket/remove/", {"files": [two.pk]})
    # then
    assert list(BasketItem.objects.filter(user=pi).values_list("archive_file", flat=True)) == [
        one.pk
    ]
    assert one.dp_id in client.get("/archive/basket/").content.decode()


def test_a_request_from_the_basket_is_prepared_in_the_background_and_delivered_as_a_zip(
    pi: User, proposal: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    files = [make_file(proposal=proposal, write=True) for _ in range(3)]
    bias = make_file(category=Category.CALIB, write=True)
    client = logged_in(pi)
    client.post("/archive/basket/add/", {"files": [f.pk for f in [*files, bias]]})
    # when: the task runs when the request is committed (eagerly in tests)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/archive/requests/", {"from_basket": "1"})
    # then
    request = DownloadRequest.objects.get(user=pi)
    assert (
        response.status_code == 302 and response["Location"] == f"/archive/requests/{request.pk}/"
    )
    assert (request.status, request.done, request.total) == (DownloadStatus.READY, 4, 4)
    assert not BasketItem.objects.filter(user=pi).exists()
    kinds = set(ArchiveEvent.objects.values_list("kind", flat=True))
    assert {ArchiveEventKind.DOWNLOAD_REQUESTED, ArchiveEventKind.DOWNLOAD_READY} <= kinds
    zipped = client.get(f"/archive/requests/{request.pk}/download.zip")
    assert zipped.streaming and zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body(zipped))) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(f.arcfile for f in [*files, bias])
        for f in [*files, bias]:
            assert archive.read(f.arcfile) == stored_bytes(f)
    page = client.get("/archive/requests/").content.decode()
    assert f"/archive/requests/{request.pk}/download.zip" in page


def test_the_zip_is_written_while_it_is_sent_in_pieces(tmp_path: Path) -> None:
    # given: a 1 MB file
    path = tmp_path / "big.fits"
    path.write_bytes(bytes(range(256)) * 4096)
    # when
    pieces = list(delivery.zip_stream([("big.fits", path)]))
    # then: many pieces, none much bigger than a read, that together make the zip
    assert len(pieces) > 10
    assert max(len(p) for p in pieces) <= delivery.CHUNK + 1024
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as archive:
        assert archive.read("big.fits") == path.read_bytes()


def test_a_request_naming_someone_elses_proprietary_file_is_refused_and_writes_nothing(
    proposal: Proposal,
) -> None:
    # given
    secret = make_file(proposal=proposal, write=True)
    bias = make_file(category=Category.CALIB, write=True)
    other = bearer_client(UserFactory.create())
    # when
    response = other.post(
        "/api/v1/archive/requests/", {"files": [secret.pk, bias.pk]}, format="json"
    )
    # then
    assert response.status_code == 403
    assert secret.dp_id in response.json()["errors"]["files"][0]
    assert not DownloadRequest.objects.exists()


def test_a_file_changed_in_storage_fails_the_request_with_the_reason(
    pi: User, proposal: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the stored bytes no longer match the checksum taken at ingestion
    archive_file = make_file(proposal=proposal, write=True)
    path = Path(django_settings.ARCHIVE_ROOT) / archive_file.storage_path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer_client(pi).post(
            "/api/v1/archive/requests/", {"files": [archive_file.pk]}, format="json"
        )
    # then
    request = DownloadRequest.objects.get(pk=response.json()["id"])
    assert request.status == DownloadStatus.FAILED
    assert "checksum" in request.error
    assert ArchiveEvent.objects.filter(kind=ArchiveEventKind.DOWNLOAD_FAILED).exists()
    assert logged_in(pi).get(f"/archive/requests/{request.pk}/download.zip").status_code == 404


def test_the_request_api_shows_progress_to_its_owner_only(
    pi: User, proposal: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    archive_file = make_file(proposal=proposal, write=True)
    with django_capture_on_commit_callbacks(execute=True):
        created = bearer_client(pi).post(
            "/api/v1/archive/requests/", {"files": [archive_file.pk]}, format="json"
        )
    url = f"/api/v1/archive/requests/{created.json()['id']}/"
    # when
    mine = bearer_client(pi).get(url)
    theirs = bearer_client(UserFactory.create()).get(url)
    # then
    assert created.status_code == 201
    assert mine.json()["status"] == "ready" and mine.json()["done"] == 1
    assert theirs.status_code == 404


def test_the_download_script_fetches_each_file_with_the_users_token(
    pi: User, proposal: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    files = [make_file(proposal=proposal, write=True) for _ in range(2)]
    client = logged_in(pi)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/archive/requests/", {"files": [f.pk for f in files]})
    request = DownloadRequest.objects.get(user=pi)
    # when
    response = client.get(f"/archive/requests/{request.pk}/download.sh")
    stranger = logged_in(UserFactory.create()).get(f"/archive/requests/{request.pk}/download.sh")
    # then
    script = response.content.decode()
    token = Token.objects.get(user=pi).key
    assert script.startswith("#!/bin/sh")
    assert f"TOKEN={token}" in script and "curl" in script and "wget" in script
    for f in files:
        assert f"/api/v1/archive/files/{f.pk}/download/ {f.arcfile}" in script
    assert stranger.status_code == 404
    # and the script's URL with its token gets the bytes
    got = bearer_client(pi).get(f"/api/v1/archive/files/{files[0].pk}/download/")
    assert body(got) == stored_bytes(files[0])


def test_a_file_whose_access_ended_is_left_out_of_the_zip(
    pi: User, proposal: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a delegate's prepared request, then the PI takes the access back
    delegate = UserFactory.create()
    row = DataDelegate.objects.create(proposal=proposal, user=delegate, granted_by=pi)
    secret = make_file(proposal=proposal, write=True)
    client = logged_in(delegate)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/archive/requests/", {"files": [secret.pk]})
    request = DownloadRequest.objects.get(user=delegate)
    assert request.status == DownloadStatus.READY
    row.delete()
    # when
    zipped = client.get(f"/archive/requests/{request.pk}/download.zip")
    # then
    with zipfile.ZipFile(io.BytesIO(body(zipped))) as archive:
        assert archive.namelist() == ["README.txt"]
        assert secret.dp_id in archive.read("README.txt").decode()


def test_preparing_again_is_harmless_and_a_request_left_preparing_is_finished(
    pi: User, proposal: Proposal
) -> None:
    # given: one request prepared, one left "preparing" by a worker that died
    archive_file = make_file(proposal=proposal, write=True)
    done = DownloadRequest.objects.create(user=pi, total=1)
    done.files.set([archive_file])
    first = download_request_prepare(request_id=done.pk)
    stuck = DownloadRequest.objects.create(
        user=pi, total=1, status=DownloadStatus.PREPARING, done=0
    )
    stuck.files.set([archive_file])
    events = ArchiveEvent.objects.count()
    # when: the tasks are delivered again
    again = download_request_prepare(request_id=done.pk)
    finished = download_request_prepare(request_id=stuck.pk)
    # then
    assert again.status == DownloadStatus.READY and again.finished_at == first.finished_at
    assert (finished.status, finished.done) == (DownloadStatus.READY, 1)
    assert ArchiveEvent.objects.count() == events + 1  # only the stuck one's "ready"


def test_an_empty_basket_post_adds_nothing_and_says_so(pi: User) -> None:
    # when
    response = logged_in(pi).post("/archive/basket/add/", {}, follow=True)
    # then
    assert "Choose at least one file" in response.content.decode()
    assert not BasketItem.objects.exists()


def test_basket_changes_are_recorded_as_events(pi: User, proposal: Proposal) -> None:
    # given two files the PI may see
    first, second = make_file(proposal=proposal), make_file(proposal=proposal)
    # when she adds both (one twice) and removes one
    assert downloads.basket_add(user=pi, file_ids=[first.pk, second.pk]) == 2
    assert downloads.basket_add(user=pi, file_ids=[first.pk]) == 0
    assert downloads.basket_remove(user=pi, file_ids=[second.pk]) == 1
    # then one event per change that changed something, naming her and the files
    events = list(
        ArchiveEvent.objects.filter(
            kind__in=[ArchiveEventKind.BASKET_ADDED, ArchiveEventKind.BASKET_REMOVED]
        ).order_by("pk")
    )
    assert [(e.kind, e.actor_id, e.detail["files"]) for e in events] == [
        (ArchiveEventKind.BASKET_ADDED, pi.pk, sorted([first.pk, second.pk])),
        (ArchiveEventKind.BASKET_REMOVED, pi.pk, [second.pk]),
    ]
