"""Phase 1 services: the only write path. Flat tests, given / when / then."""

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from dataflow.errors import Frozen, InvalidInput, NotAllowed, StaleVersion, TransitionNotAllowed
from dataflow.observatory.models import Instrument
from proposals import services
from proposals.commands import ProposalData, RunData, TargetData
from proposals.models import CoInvestigator, ObservingRun, Proposal, ProposalEvent, Target
from proposals.verification import verify_proposal
from tests.factories import InstrumentFactory, TargetFactory, TelescopeFactory, UserFactory


def png_bytes(size: tuple[int, int] = (20, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_submit_assigns_programme_id_freezes_and_records_event(draft, astronomer):
    # when
    proposal = services.proposal_submit(proposal_id=draft.pk, actor=astronomer)
    # then
    assert proposal.status == "submitted"
    assert proposal.programme_id == f"{draft.period.number}.C-0001"
    event = ProposalEvent.objects.get(proposal=draft)
    assert (event.old, event.new, event.actor) == ("draft", "submitted", astronomer)
    with pytest.raises(Frozen, match="can no longer be edited"):
        services.proposal_update(
            proposal_id=draft.pk, actor=astronomer, data=ProposalData(title="Changed")
        )
    assert Proposal.objects.get(pk=draft.pk).title == draft.title


def test_submission_renders_final_pdf_and_mails_pi(
    draft, astronomer, django_capture_on_commit_callbacks
):
    # when (Celery eager in tests: the task runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_submit(proposal_id=draft.pk, actor=astronomer)
    # then
    proposal = Proposal.objects.get(pk=draft.pk)
    assert proposal.final_pdf.name.endswith(".pdf")
    assert proposal.final_pdf.read(5) == b"%PDF-"
    assert [m.to for m in mail.outbox] == [[astronomer.email]]
    assert mail.outbox[0].attachments[0][0] == f"{proposal.programme_id}.pdf"


def test_programme_numbers_increase_within_a_period(period, astronomer):
    from tests.factories import complete_proposal

    first = complete_proposal(pi=astronomer, period=period, category="A")
    second = complete_proposal(pi=astronomer, period=period, category="D")
    services.proposal_submit(proposal_id=first.pk, actor=astronomer)
    second = services.proposal_submit(proposal_id=second.pk, actor=astronomer)
    assert second.programme_id == f"{period.number}.D-0002"


def test_coi_can_edit_but_not_submit(draft, other_astronomer):
    # given
    coi = services.coi_add(proposal_id=draft.pk, actor=draft.pi, email=other_astronomer.email)
    services.coi_accept(token=str(coi.invitation_token), user=other_astronomer)
    # when the Co-I edits
    services.proposal_update(
        proposal_id=draft.pk, actor=other_astronomer, data=ProposalData(title="Co-I title")
    )
    # then
    assert Proposal.objects.get(pk=draft.pk).title == "Co-I title"
    with pytest.raises(NotAllowed, match="Only the PI"):
        services.proposal_submit(proposal_id=draft.pk, actor=other_astronomer)


def test_stranger_cannot_edit(draft, other_astronomer):
    with pytest.raises(NotAllowed):
        services.proposal_update(
            proposal_id=draft.pk, actor=other_astronomer, data=ProposalData(title="Mine now")
        )


def test_unknown_coi_gets_invitation_and_links_on_accept(draft):
    # when
    coi = services.coi_add(proposal_id=draft.pk, actor=draft.pi, email="New.Person@Example.org")
    # then
    assert coi.user is None
    newcomer = UserFactory.create(email="new.person@example.org")
    services.coi_accept(token=str(coi.invitation_token), user=newcomer)
    assert CoInvestigator.objects.get(pk=coi.pk).user == newcomer


def test_invitation_mail_carries_an_absolute_link(
    draft, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://dfs.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        coi = services.coi_add(proposal_id=draft.pk, actor=draft.pi, email="new@example.org")
    (message,) = mail.outbox
    assert message.to == ["new@example.org"]
    assert (
        f"https://dfs.example.org/proposals/invitations/{coi.invitation_token}/accept/"
        in message.body
    )


def test_stale_version_is_refused(draft):
    with pytest.raises(StaleVersion):
        services.proposal_update(
            proposal_id=draft.pk,
            actor=draft.pi,
            expected_version=draft.version - 1,
            data=ProposalData(title="Late edit"),
        )
    assert Proposal.objects.get(pk=draft.pk).title == draft.title


@pytest.mark.parametrize(
    ("ra", "dec", "field"),
    [("25:00:00", "-30:00:00", "ra"), ("10:00:00", "-95", "dec"), ("ten", "x", "ra")],
)
def test_bad_coordinates_are_refused_and_nothing_saved(draft, ra, dec, field):
    before = Target.objects.count()
    with pytest.raises(InvalidInput) as err:
        services.target_create(
            proposal_id=draft.pk, actor=draft.pi, data=TargetData(name="Bad", ra=ra, dec=dec)
        )
    assert field in err.value.errors
    assert Target.objects.count() == before


def test_sexagesimal_and_degrees_give_the_same_target(draft):
    a = services.target_create(
        proposal_id=draft.pk,
        actor=draft.pi,
        data=TargetData(name="A", ra="05:35:17.3", dec="-05:23:28"),
    )
    b = services.target_create(
        proposal_id=draft.pk, actor=draft.pi, data=TargetData(name="B", ra=83.822083, dec=-5.391111)
    )
    assert a.ra_deg == pytest.approx(b.ra_deg, abs=1e-5)
    assert a.dec_deg == pytest.approx(b.dec_deg, abs=1e-5)


def test_negative_time_is_refused_and_nothing_saved(draft):
    before = ObservingRun.objects.count()
    with pytest.raises(InvalidInput) as err:
        services.run_create(
            proposal_id=draft.pk,
            actor=draft.pi,
            data=RunData(telescope="UT1", instrument="FORS2", mode="SM", hours=-2),
        )
    assert "hours" in err.value.errors
    assert ObservingRun.objects.count() == before


def test_instrument_not_on_telescope_is_refused(draft):
    muse = InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT4"), name="MUSE")
    before = ObservingRun.objects.count()
    with pytest.raises(InvalidInput) as err:
        services.run_create(
            proposal_id=draft.pk,
            actor=draft.pi,
            data=RunData(telescope="UT1", instrument=muse.pk, mode="SM", hours=2),
        )
    assert "MUSE is not an instrument of UT1" in err.value.errors["instrument"][0]
    assert ObservingRun.objects.count() == before


def test_figure_is_checked_by_content_not_name(draft):
    fake = SimpleUploadedFile("plot.png", b"%PDF-1.4 not an image at all", content_type="image/png")
    with pytest.raises(InvalidInput, match="Not an image"):
        services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=fake, size=len(fake))
    real = SimpleUploadedFile("photo.jpg", png_bytes(), content_type="image/jpeg")
    figure = services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=real, size=len(real))
    assert figure.image_format == "png"
    assert draft.figures.count() == 1


def test_failed_figure_write_leaves_no_file(draft, settings, monkeypatch):
    # given a database failure after the image was stored
    def fail(proposal, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_edited", fail)
    upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    stored_before = {p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()}
    # when
    with pytest.raises(RuntimeError):
        services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=upload, size=len(upload))
    # then neither the row nor the file survives
    assert draft.figures.count() == 0
    assert {p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()} == stored_before


def test_oversized_figure_is_refused(draft, settings):
    settings.FIGURE_MAX_BYTES = 100
    big = SimpleUploadedFile("big.png", png_bytes((200, 200)), content_type="image/png")
    with pytest.raises(InvalidInput, match="too large"):
        services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=big, size=len(big))
    assert draft.figures.count() == 0


def test_submission_after_deadline_is_refused(draft):
    late = draft.period.deadline + dt.timedelta(minutes=1)
    with pytest.raises(InvalidInput, match="deadline has passed"):
        services.proposal_submit(proposal_id=draft.pk, actor=draft.pi, now=late)
    assert Proposal.objects.get(pk=draft.pk).status == "draft"


def test_withdraw_before_deadline_then_not_again(draft):
    services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    proposal = services.proposal_withdraw(proposal_id=draft.pk, actor=draft.pi)
    assert proposal.status == "withdrawn"
    with pytest.raises(TransitionNotAllowed):
        services.proposal_withdraw(proposal_id=draft.pk, actor=draft.pi)


def test_withdraw_after_deadline_is_refused(draft):
    services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    with pytest.raises(InvalidInput):
        services.proposal_withdraw(
            proposal_id=draft.pk,
            actor=draft.pi,
            now=draft.period.deadline + dt.timedelta(seconds=1),
        )


def test_submission_with_verification_errors_is_refused(draft):
    draft.abstract = ""
    draft.save()
    with pytest.raises(InvalidInput) as err:
        services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    assert any("abstract" in m for m in err.value.errors["verification"])


def test_verification_names_target_that_never_reaches_airmass_and_its_best_night(draft):
    # given a northern target (Dec +60: at best ~5 deg high from Paranal)
    run = draft.runs.get()
    north = TargetFactory.create(proposal=draft, name="Polaris-ish", ra_deg=40.0, dec_deg=60.0)
    run.targets.add(north)
    # when
    report = verify_proposal(draft)
    # then
    messages = [f.message for f in report.errors]
    assert len(messages) == 1
    assert "Polaris-ish never reaches airmass 1.8" in messages[0]
    assert "best observable on the night of" in messages[0]


def test_verification_flags_whole_vm_nights_and_instrument_not_offered(draft):
    vircam = InstrumentFactory.create(
        telescope=TelescopeFactory.create(name="VISTA"), name="VIRCAM", offered_vm=False
    )
    run = draft.runs.get()
    ObservingRun.objects.filter(pk=run.pk).update(mode="VM", nights=1.5, hours=None)
    ObservingRun.objects.create(
        proposal=draft,
        letter="B",
        telescope=vircam.telescope,
        instrument=vircam,
        mode="VM",
        nights=2,
    )
    messages = " | ".join(f.message for f in verify_proposal(draft).errors)
    assert "whole nights, not 1.5" in messages
    assert "VIRCAM is not offered in visitor mode" in messages
    assert "The run has no target" in messages


def test_call_must_be_open_to_create(period, astronomer):
    period.call_opens = timezone.now() + dt.timedelta(days=1)
    period.deadline = timezone.now() + dt.timedelta(days=2)
    period.save()
    with pytest.raises(InvalidInput, match="call is closed"):
        services.proposal_create(pi=astronomer, period=period, title="Too early")
    assert not Instrument.objects.filter(name="nothing").exists()
