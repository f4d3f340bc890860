"""The Phase 1 pages through Django's test client: permissions, errors on the form, frozen
proposals, the staff list."""

import datetime as dt
import io

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from dataflow.accounts.models import Role
from proposals.models import (
    CoInvestigator,
    Figure,
    ObservingRun,
    Proposal,
    ProposalStatus,
    Target,
)
from tests.factories import (
    InstrumentFactory,
    PeriodFactory,
    ProposalFactory,
    TelescopeFactory,
    UserFactory,
    complete_proposal,
)

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, proposal: Proposal, *args: int) -> str:
    return reverse(f"proposals:{name}", args=[proposal.pk, *args])


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 80, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def _run_post(draft: Proposal, **overrides: object) -> dict[str, object]:
    run = draft.runs.get()
    data: dict[str, object] = {
        "telescope": run.telescope_id,
        "instrument": run.instrument_id,
        "mode": "SM",
        "hours": "3.5",
        "nights": "",
        "moon": "g",
        "max_fli": "",
        "max_seeing_arcsec": "1.0",
        "transparency": "clear",
        "max_airmass": "1.8",
        "targets": [t.pk for t in draft.targets.all()],
        "preferred_dates": "",
        "impossible_dates": "",
    }
    data.update(overrides)
    return data


def _submitted(pi: User) -> Proposal:
    proposal = complete_proposal(pi=pi)
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.SUBMITTED,
        programme_number=7,
        programme_id="119.C-0007",
        submitted_at=timezone.now(),
    )
    proposal.refresh_from_db()
    return proposal


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("edit", "get"),
        ("detail", "get"),
        ("pdf", "get"),
        ("verify", "get"),
        ("submit", "post"),
        ("withdraw", "post"),
        ("target_add", "post"),
        ("run_add", "post"),
        ("figure_add", "post"),
    ],
)
def test_other_astronomer_gets_404_on_someone_elses_proposal(draft, other_astronomer, name, method):
    # given another astronomer's draft
    client = _client(other_astronomer)
    # when bob opens one of its pages
    response = getattr(client, method)(
        _url(name, draft), {"confirm": "on"} if method == "post" else {}
    )
    # then the proposal does not exist for him, and nothing changed
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.status == ProposalStatus.DRAFT


def test_anonymous_user_is_sent_to_login(draft):
    # given nobody logged in
    # when the edit page is opened
    response = Client().get(_url("edit", draft))
    # then the login page is asked for
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_co_investigator_can_edit_the_draft(draft, other_astronomer):
    # given bob is a linked co-investigator of ada's draft
    CoInvestigator.objects.create(
        proposal=draft, email=other_astronomer.email, user=other_astronomer
    )
    client = _client(other_astronomer)
    # when bob changes the title
    response = client.post(
        _url("edit", draft),
        {
            "title": "Dust, revisited",
            "abstract": draft.abstract,
            "category": "C",
            "proposal_type": "normal",
            "scientific_justification": "Still there.",
            "version": draft.version,
        },
    )
    # then it is saved
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Dust, revisited"


def test_co_investigator_cannot_submit(draft, other_astronomer):
    # given bob is a co-investigator of ada's complete draft
    CoInvestigator.objects.create(
        proposal=draft, email=other_astronomer.email, user=other_astronomer
    )
    client = _client(other_astronomer)
    # when he looks at the proposal, then no submit button is offered
    page = client.get(_url("detail", draft)).content.decode()
    assert "Submit proposal" not in page
    # when he submits anyway
    response = client.post(_url("submit", draft), {"confirm": "on"})
    # then he is refused (403) with the reason, and the proposal stays a draft
    assert response.status_code == 403
    assert "Only the PI can submit the proposal." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ProposalStatus.DRAFT and draft.programme_id is None


def test_pi_submits_and_sees_programme_id(draft, astronomer):
    # given ada's complete draft
    client = _client(astronomer)
    # when she confirms and submits
    response = client.post(_url("submit", draft), {"confirm": "on"}, follow=True)
    # then the detail page shows the programme ID and the submitted status and history
    draft.refresh_from_db()
    page = response.content.decode()
    assert draft.status == ProposalStatus.SUBMITTED
    assert draft.programme_id == "119.C-0001"
    assert "119.C-0001" in page and "Submitted" in page
    assert "submitted proposals are frozen" in page.lower()


def test_submit_needs_the_confirmation_box(draft, astronomer):
    # given ada's complete draft
    client = _client(astronomer)
    # when she submits without ticking the confirmation
    response = client.post(_url("submit", draft), {})
    # then it is refused on the form
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ProposalStatus.DRAFT


def test_submit_is_post_only(draft, astronomer):
    # when the submit URL is opened with GET
    response = _client(astronomer).get(_url("submit", draft))
    # then it is not allowed
    assert response.status_code == 405


# --- frozen -------------------------------------------------------------------------------


def test_submitted_proposal_shows_read_only_with_frozen_message(astronomer):
    # given a submitted proposal
    proposal = _submitted(astronomer)
    # when its PI opens the edit page
    page = _client(astronomer).get(_url("edit", proposal)).content.decode()
    # then it is read-only and says why
    assert "Submitted proposals are frozen" in page
    assert "Save proposal" not in page and "Add target" not in page
    assert "LMC field" in page


def test_submitted_proposal_refuses_edits_with_the_message(astronomer):
    # given a submitted proposal
    proposal = _submitted(astronomer)
    client = _client(astronomer)
    # when its PI posts a new title and a new target anyway
    response = client.post(
        _url("edit", proposal),
        {
            "title": "Changed",
            "proposal_type": "normal",
            "category": "C",
            "version": proposal.version,
        },
    )
    target_response = client.post(
        _url("target_add", proposal), {"name": "New", "ra": "10:00:00", "dec": "-30:00:00"}
    )
    # then both are refused with the service's message and nothing changed
    page = response.content.decode()
    assert "can no longer be edited" in page
    assert "Submitted proposals are frozen" in page
    assert "can no longer be edited" in target_response.content.decode()
    proposal.refresh_from_db()
    assert proposal.title != "Changed"
    assert not proposal.targets.filter(name="New").exists()


# --- errors on the form, nothing saved --------------------------------------------------


def test_target_in_sexagesimal_is_saved_in_degrees(draft, astronomer):
    # when ada adds a target in sexagesimal
    response = _client(astronomer).post(
        _url("target_add", draft),
        {
            "name": "NGC 253",
            "ra": "00:47:33.1",
            "dec": "-25:17:18",
            "magnitude": "8.0",
            "pm_ra_mas_yr": "",
            "pm_dec_mas_yr": "",
        },
    )
    # then it is stored in degrees
    assert response.status_code == 302
    target = draft.targets.get(name="NGC 253")
    assert target.ra_deg == pytest.approx(11.888, abs=1e-3)
    assert target.dec_deg == pytest.approx(-25.2883, abs=1e-3)


def test_bad_coordinates_show_form_errors_and_save_nothing(draft, astronomer):
    # given ada's draft with one target
    before = draft.version
    # when she adds a target with an unreadable RA and a declination beyond the pole
    response = _client(astronomer).post(
        _url("target_add", draft),
        {
            "name": "Nowhere",
            "ra": "25h99m",
            "dec": "-95.0",
        },
    )
    # then both errors are shown next to their fields and nothing is saved
    assert response.status_code == 200
    form = response.context["target_form"]
    assert "Cannot read '25h99m' as a right ascension" in form.errors["ra"][0]
    assert "outside ±90°" in form.errors["dec"][0]
    assert 'data-field="ra"' in response.content.decode()
    assert not Target.objects.filter(name="Nowhere").exists()
    draft.refresh_from_db()
    assert draft.version == before


def test_negative_time_shows_form_error_and_saves_nothing(draft, astronomer):
    # given ada's draft with run A of 4 h
    run = draft.runs.get()
    # when she edits the run to ask for -2 h
    response = _client(astronomer).post(
        _url("run_edit", draft, run.pk), _run_post(draft, hours="-2")
    )
    # then the hours field says so and the run is unchanged
    assert response.status_code == 200
    assert response.context["run_form"].errors["hours"] == ["Requested time must be positive."]
    run.refresh_from_db()
    assert run.hours == 4.0


def test_instrument_not_on_telescope_shows_form_error_and_saves_nothing(draft, astronomer):
    # given a second telescope with its own instrument
    ut2_instrument = InstrumentFactory.create(
        telescope=TelescopeFactory.create(name="UT2"), name="UVES"
    )
    # when ada adds a run on UT1 with UT2's instrument
    response = _client(astronomer).post(
        _url("run_add", draft), _run_post(draft, instrument=ut2_instrument.pk)
    )
    # then the instrument field says it is not on that telescope, and no run B exists
    assert response.status_code == 200
    assert response.context["run_form"].errors["instrument"] == [
        "UVES is not an instrument of UT1."
    ]
    assert ObservingRun.objects.filter(proposal=draft).count() == 1


def test_moon_preset_sets_max_fli(draft, astronomer):
    # when ada adds a run with the grey-moon preset and no explicit FLI
    response = _client(astronomer).post(_url("run_add", draft), _run_post(draft, moon="g"))
    # then the run's max FLI is ESO's grey, 0.7
    assert response.status_code == 302
    assert draft.runs.get(letter="B").max_fli == 0.7


def test_visitor_mode_run_keeps_nights_and_dates(draft, astronomer):
    # when ada adds a VM run with nights and dates
    response = _client(astronomer).post(
        _url("run_add", draft),
        _run_post(
            draft,
            mode="VM",
            hours="",
            nights="2",
            preferred_dates="2031-01-03, 2031-01-02",
            impossible_dates="2031-02-01",
        ),
    )
    # then the run has the nights and the dates, sorted
    assert response.status_code == 302
    run = draft.runs.get(letter="B")
    assert (run.nights, run.hours) == (2.0, None)
    assert run.preferred_dates == ["2031-01-02", "2031-01-03"]
    assert run.impossible_dates == ["2031-02-01"]


def test_non_image_named_png_is_refused(draft, astronomer):
    # when ada uploads a text file named .png
    upload = SimpleUploadedFile("plot.png", b"not an image at all", content_type="image/png")
    response = _client(astronomer).post(
        _url("figure_add", draft), {"image": upload, "caption": "x"}
    )
    # then the image field says it is not a PNG or JPEG and no figure is stored
    assert response.status_code == 200
    assert "not a PNG or JPEG image" in response.context["figure_form"].errors["image"][0]
    assert not Figure.objects.exists()


def test_oversized_upload_is_refused(draft, astronomer, settings):
    # given figures limited to 100 bytes
    settings.FIGURE_MAX_BYTES = 100
    # when ada uploads a real PNG bigger than that
    upload = SimpleUploadedFile("plot.png", _png_bytes() + b"\0" * 200, content_type="image/png")
    response = _client(astronomer).post(_url("figure_add", draft), {"image": upload})
    # then the image field says it is too large and no figure is stored
    assert response.status_code == 200
    assert "figures are limited to" in response.context["figure_form"].errors["image"][0]
    assert not Figure.objects.exists()


def test_png_figure_is_stored_and_served_to_investigators_only(draft, astronomer, other_astronomer):
    # when ada uploads a real PNG
    upload = SimpleUploadedFile("plot.png", _png_bytes(), content_type="image/png")
    response = _client(astronomer).post(
        _url("figure_add", draft), {"image": upload, "caption": "Dust map"}
    )
    # then it is stored and served to her, not to bob
    assert response.status_code == 302
    figure = Figure.objects.get(proposal=draft)
    served = _client(astronomer).get(_url("figure_image", draft, figure.pk))
    assert served["Content-Type"] == "image/png"
    assert served.getvalue().startswith(b"\x89PNG")
    assert _client(other_astronomer).get(_url("figure_image", draft, figure.pk)).status_code == 404


def test_submission_after_the_deadline_shows_error_and_keeps_draft(astronomer):
    # given a complete draft whose period's deadline passed an hour ago
    period = PeriodFactory.create(
        number=118,
        call_opens=timezone.now() - dt.timedelta(days=60),
        deadline=timezone.now() - dt.timedelta(hours=1),
    )
    proposal = complete_proposal(pi=astronomer, period=period)
    # when ada submits
    response = _client(astronomer).post(_url("submit", proposal), {"confirm": "on"})
    # then the page says the deadline has passed and the proposal is still a draft
    assert response.status_code == 200
    page = response.content.decode()
    assert "The deadline has passed." in page
    assert "The deadline for P118 was" in page
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DRAFT and proposal.programme_id is None


def test_co_investigator_by_email_shows_invited_then_linked_after_accepting(draft, astronomer):
    # given ada invites an address without an account, then bob's address
    client = _client(astronomer)
    client.post(_url("coi_add", draft), {"email": "newcomer@example.org"})
    bob = UserFactory.create(
        username="bob", email="bob@example.org", institute="Université Paris-Saclay"
    )
    client.post(_url("coi_add", draft), {"email": "bob@example.org"})
    page = client.get(_url("edit", draft)).content.decode()
    assert "newcomer@example.org" in page and "bob@example.org" in page
    assert "Université Paris-Saclay" not in page  # not linked before he accepts
    # when bob accepts his invitation
    coi = draft.coinvestigators.get(email="bob@example.org")
    _client(bob).post(reverse("proposals:accept_invitation", args=[coi.invitation_token]))
    # then the edit page shows one invited and one linked co-investigator with his institute
    page = client.get(_url("edit", draft)).content.decode()
    assert "newcomer@example.org" in page and "invited" in page
    assert "Université Paris-Saclay" in page and "linked" in page


def test_accept_invitation_links_the_account(draft):
    # given an invitation to an address that has no account yet
    coi = CoInvestigator.objects.create(proposal=draft, email="carol@example.org")
    carol = UserFactory.create(username="carol", email="carol@example.org")
    client = _client(carol)
    url = reverse("proposals:accept_invitation", args=[coi.invitation_token])
    # when carol opens the invitation and accepts it
    assert draft.title in client.get(url).content.decode()
    response = client.post(url)
    # then she is linked and sees the proposal
    assert response.status_code == 302
    coi.refresh_from_db()
    assert coi.user == carol
    assert client.get(_url("detail", draft)).status_code == 200


def test_accept_invitation_for_another_address_is_refused(draft, other_astronomer):
    # given an invitation to carol's address
    coi = CoInvestigator.objects.create(proposal=draft, email="carol@example.org")
    # when bob accepts it
    response = _client(other_astronomer).post(
        reverse("proposals:accept_invitation", args=[coi.invitation_token])
    )
    # then he is told to use that address and is not linked
    assert "This invitation is for carol@example.org" in response.content.decode()
    coi.refresh_from_db()
    assert coi.user is None


# --- lists, create, verify, PDF -----------------------------------------------------------


def test_my_proposals_lists_pi_and_coi_proposals_only(draft, astronomer, other_astronomer):
    # given ada's draft, bob's draft with ada as Co-I, and a third proposal of bob's
    bobs = ProposalFactory.create(pi=other_astronomer, title="Comets of Bob")
    CoInvestigator.objects.create(proposal=bobs, email=astronomer.email, user=astronomer)
    ProposalFactory.create(pi=other_astronomer, title="Secret of Bob")
    # when ada opens her list
    page = _client(astronomer).get(reverse("proposals:mine")).content.decode()
    # then she sees hers and the one she is Co-I of, the run summary and a New button
    assert draft.title in page and "Comets of Bob" in page
    assert "Secret of Bob" not in page
    assert "A: UT1 / FORS2, SM, 4 h" in page
    assert "New proposal for P119" in page


def test_create_opens_a_draft_and_goes_to_the_edit_page(period, astronomer):
    # when ada creates a proposal
    response = _client(astronomer).post(
        reverse("proposals:create"),
        {
            "period": period.pk,
            "title": "Kuiper belt binaries",
            "abstract": "Binaries.",
            "category": "C",
            "proposal_type": "normal",
            "scientific_justification": "Orbits.",
        },
    )
    # then a draft exists and she is on its edit page
    proposal = Proposal.objects.get(title="Kuiper belt binaries")
    assert proposal.pi == astronomer and proposal.status == ProposalStatus.DRAFT
    assert response["Location"] == _url("edit", proposal)


def test_create_without_title_shows_the_error(period, astronomer):
    # when ada creates a proposal without a title
    response = _client(astronomer).post(
        reverse("proposals:create"),
        {
            "period": period.pk,
            "title": "",
            "proposal_type": "normal",
        },
    )
    # then the title field says it is required and nothing is created
    assert response.context["form"].errors["title"] == ["This field is required."]
    assert not Proposal.objects.exists()


def test_verify_lists_errors_with_where(astronomer, period):
    # given a draft without abstract, target or run
    proposal = ProposalFactory.create(pi=astronomer, period=period, abstract="")
    # when ada verifies it
    page = _client(astronomer).get(_url("verify", proposal)).content.decode()
    # then each error says where
    assert "The proposal needs an abstract." in page
    assert "The proposal has no observing run." in page
    assert '<td class="where">abstract</td>' in page
    assert "Back to editing" in page


def test_verify_of_complete_draft_shows_no_errors(draft, astronomer):
    # when ada verifies her complete draft
    page = _client(astronomer).get(_url("verify", draft)).content.decode()
    # then there is no error
    assert "No errors" in page


def test_pdf_preview_is_an_inline_pdf(draft, astronomer):
    # when ada opens the PDF preview of her draft
    response = _client(astronomer).get(_url("pdf", draft))
    # then it is a PDF, shown inline
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response.content.startswith(b"%PDF")


def test_pdf_of_submitted_proposal_is_the_stored_final_pdf(astronomer):
    # given a submitted proposal with its stored final PDF
    proposal = _submitted(astronomer)
    proposal.final_pdf.save("119.C-0007.pdf", ContentFile(b"%PDF-1.7 stored final"), save=True)
    # when its PI opens the PDF
    response = _client(astronomer).get(_url("pdf", proposal))
    # then the stored file is served inline
    assert response["Content-Type"] == "application/pdf"
    assert "inline" in response["Content-Disposition"]
    assert response.getvalue() == b"%PDF-1.7 stored final"


# --- staff ----------------------------------------------------------------------------------


def test_staff_list_filters_by_status_category_telescope_and_text(staff, astronomer, period):
    # given three proposals of the period: a submitted C on UT1, a draft B on UT2, a draft D
    submitted = _submitted(astronomer)
    galaxy = ProposalFactory.create(
        pi=astronomer, period=period, category="B", title="Galaxy winds"
    )
    ut2 = TelescopeFactory.create(name="UT2")
    ObservingRun.objects.create(
        proposal=galaxy,
        letter="A",
        telescope=ut2,
        instrument=InstrumentFactory.create(telescope=ut2, name="UVES"),
        hours=2,
    )
    ProposalFactory.create(pi=astronomer, period=period, category="D", title="White dwarfs")
    client = _client(staff)
    url = reverse("proposals:period_list", args=[period.number])

    def titles(**params: str) -> set[str]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {p.title for p in response.context["proposals"]}

    # when staff filter, then only the matching proposals are listed
    assert titles() == {submitted.title, "Galaxy winds", "White dwarfs"}
    assert titles(status="submitted") == {submitted.title}
    assert titles(category="B") == {"Galaxy winds"}
    assert titles(telescope=str(ut2.pk)) == {"Galaxy winds"}
    assert titles(q="dwarf") == {"White dwarfs"}
    assert titles(q="119.C-0007") == {submitted.title}


def test_staff_list_without_period_goes_to_the_open_period(staff, period):
    # when staff open the list without a period
    response = _client(staff).get(reverse("proposals:period_list"))
    # then they land on the period whose call is open
    assert response["Location"] == reverse("proposals:period_list", args=[period.number])


def test_non_staff_cannot_see_the_period_list(astronomer, period):
    # when an astronomer opens the staff list
    response = _client(astronomer).get(reverse("proposals:period_list", args=[period.number]))
    # then it is forbidden
    assert response.status_code == 403


def test_staff_without_role_group_but_superuser_can_see_the_list(period):
    # given a superuser with no role group
    admin = UserFactory.create(username="root", roles=[Role.ASTRONOMER])
    admin.is_superuser = True
    admin.save()
    # when they open the list, then it is shown
    response = _client(admin).get(reverse("proposals:period_list", args=[period.number]))
    assert response.status_code == 200


def test_pi_withdraws_a_submitted_proposal_and_history_shows_it(astronomer):
    # given a submitted proposal
    proposal = _submitted(astronomer)
    client = _client(astronomer)
    assert "Withdraw proposal" in client.get(_url("detail", proposal)).content.decode()
    # when its PI withdraws it
    response = client.post(_url("withdraw", proposal), follow=True)
    # then it is withdrawn and the history says who moved it from Submitted to Withdrawn
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.WITHDRAWN
    page = response.content.decode()
    assert "Proposal withdrawn." in page
    assert "<td>Submitted</td><td>Withdrawn</td>" in page
    assert "Ada Astronomer" in page


def test_co_investigator_cannot_withdraw(astronomer, other_astronomer):
    # given a submitted proposal with bob as co-investigator
    proposal = _submitted(astronomer)
    CoInvestigator.objects.create(
        proposal=proposal, email=other_astronomer.email, user=other_astronomer
    )
    client = _client(other_astronomer)
    # when bob withdraws it
    page = client.post(_url("withdraw", proposal), follow=True).content.decode()
    # then he is told only the PI may, and it stays submitted
    assert "Only the PI can withdraw the proposal." in page
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.SUBMITTED


def test_target_edit_form_is_prefilled_and_saves(draft, astronomer):
    # given ada's draft with its target
    target = draft.targets.get()
    client = _client(astronomer)
    # when she opens the target for editing, then its coordinates are shown in sexagesimal
    page = client.get(_url("target_edit", draft, target.pk)).content.decode()
    assert "Edit target LMC field" in page and 'value="05:35:16.80"' in page
    # when she moves it
    response = client.post(
        _url("target_edit", draft, target.pk),
        {
            "name": "LMC field",
            "ra": "80.0",
            "dec": "-69.0",
            "magnitude": "",
            "pm_ra_mas_yr": "",
            "pm_dec_mas_yr": "",
        },
    )
    # then the new position is saved
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.ra_deg, target.dec_deg) == (80.0, -69.0)


def test_target_of_another_proposal_is_404_through_this_one(draft, astronomer, other_astronomer):
    # given bob's proposal with a target
    bobs = complete_proposal(pi=other_astronomer)
    # when ada addresses bob's target through her own proposal's URL
    response = _client(astronomer).post(_url("target_delete", draft, bobs.targets.get().pk))
    # then it does not exist, and bob's target is still there
    assert response.status_code == 404
    assert bobs.targets.exists()


def test_verify_page_draws_each_runs_visibility_and_only_for_the_owner(
    client, draft, other_astronomer
):
    # given
    run = draft.runs.get()
    url = reverse("proposals:run_visibility", args=[draft.pk, run.pk])
    client.force_login(draft.pi)
    # when
    page = client.get(reverse("proposals:verify", args=[draft.pk]))
    png = client.get(url)
    # then
    assert url in page.content.decode()
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    client.force_login(other_astronomer)
    assert client.get(url).status_code == 404
