"""Data delegates: a PI names who else reads the programme's proprietary files; access is
decided at download time, so naming and removing take effect at once."""

import pytest
from django.contrib.auth.models import User

from archive.models import ArchiveEvent, ArchiveEventKind, DataDelegate
from proposals.models import CoInvestigator, Proposal
from tests.archive.make_files import make_file
from tests.conftest import logged_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("archive_in_tmp")]


def test_a_delegate_named_by_the_pi_downloads_the_proprietary_files_until_removed(
    pi: User, proposal: Proposal
) -> None:
    # given
    secret = make_file(proposal=proposal, write=True)
    student = UserFactory.create(username="student", email="student@example.org")
    url = f"/archive/files/{secret.pk}/download/"
    assert logged_in(student).get(url).status_code == 403
    # when: named by e-mail address
    named = logged_in(pi).post(
        f"/archive/delegates/programmes/{proposal.pk}/add/", {"user": "Student@example.org"}
    )
    # then
    assert named.status_code == 302
    assert logged_in(student).get(url).status_code == 200
    row = DataDelegate.objects.get(proposal=proposal, user=student)
    assert ArchiveEvent.objects.filter(kind=ArchiveEventKind.DELEGATE_ADDED, actor=pi).exists()
    # when: removed
    logged_in(pi).post(f"/archive/delegates/{row.pk}/remove/")
    # then
    assert logged_in(student).get(url).status_code == 403
    assert ArchiveEvent.objects.filter(kind=ArchiveEventKind.DELEGATE_REMOVED).exists()


def test_a_co_investigator_cannot_name_delegates_and_a_stranger_does_not_see_the_programme(
    pi: User, proposal: Proposal
) -> None:
    # given
    coi = UserFactory.create()
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    friend = UserFactory.create(username="friend")
    url = f"/archive/delegates/programmes/{proposal.pk}/add/"
    # when
    by_coi = logged_in(coi).post(url, {"user": "friend"})
    by_stranger = logged_in(friend).post(url, {"user": "friend"})
    # then
    assert by_coi.status_code == 403
    assert by_stranger.status_code == 404
    assert not DataDelegate.objects.exists()


def test_an_unknown_account_is_refused_on_the_form_and_nothing_is_written(
    pi: User, proposal: Proposal
) -> None:
    # when
    response = logged_in(pi).post(
        f"/archive/delegates/programmes/{proposal.pk}/add/", {"user": "nobody"}
    )
    # then
    assert response.status_code == 200
    assert "No account has the username or e-mail" in response.content.decode()
    assert not DataDelegate.objects.exists()
    assert not ArchiveEvent.objects.exists()


def test_the_delegates_page_lists_the_pis_programmes_and_their_delegates(
    pi: User, proposal: Proposal
) -> None:
    # given
    student = UserFactory.create(username="student")
    DataDelegate.objects.create(proposal=proposal, user=student, granted_by=pi)
    # when
    text = logged_in(pi).get("/archive/delegates/").content.decode()
    other = logged_in(student).get("/archive/delegates/").content.decode()
    # then
    assert proposal.programme_id and proposal.programme_id in text and "student" in text
    assert proposal.programme_id not in other


def test_delegates_see_their_programmes_files_on_the_home_card(
    pi: User, proposal: Proposal
) -> None:
    # given
    student = UserFactory.create(username="student")
    DataDelegate.objects.create(proposal=proposal, user=student, granted_by=pi)
    make_file(proposal=proposal)
    make_file(proposal=proposal)
    # when
    text = logged_in(student).get("/proposals/").content.decode()
    # then
    assert "Your data in the archive" in text
    assert "2 files" in text and "2 still proprietary" in text
