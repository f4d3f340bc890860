"""Phase 1 end to end in a real browser: create, fill, verify, PDF, submit."""

import re

import pytest

from proposals.models import Proposal, ProposalStatus
from tests.factories import InstrumentFactory, PeriodFactory, TelescopeFactory, UserFactory

pytestmark = [pytest.mark.browser]


@pytest.fixture
def observatory(transactional_db):  # type: ignore[no-untyped-def]
    """An open call, two telescopes with their instruments, one astronomer."""
    period = PeriodFactory.create()
    ut1 = TelescopeFactory.create(name="UT1")
    InstrumentFactory.create(telescope=ut1, name="FORS2")
    InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="UVES")
    UserFactory.create(username="ada", email="ada@example.org", institute="Universität Göttingen")
    return period


def test_astronomer_creates_verifies_previews_and_submits_a_proposal(page, observatory):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    # given ada logs in
    page.goto("/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="My proposals")).to_be_visible()

    # when she creates a proposal
    page.get_by_role("link", name=re.compile("New proposal")).click()
    page.fill("#id_title", "Magellanic dust with FORS2 — Göttingen")
    page.select_option("#id_category", "C")
    page.fill("#id_abstract", "We map the dust in the Large Magellanic Cloud.")
    page.fill("#id_scientific_justification", "Dust grows in the bar; we measure how much.")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft created")

    # and mistypes a target's RA: the error shows next to the field and nothing is saved
    target_form = page.locator("#target-form")
    target_form.locator("[name=name]").fill("LMC bar")
    target_form.locator("[name=ra]").fill("5h99m")
    target_form.locator("[name=dec]").fill("-69:45:22")
    target_form.get_by_role("button", name="Add target").click()
    expect(page.locator("#target-form [data-field=ra] .errorlist")).to_contain_text(
        "Cannot read '5h99m' as a right ascension"
    )
    expect(page.locator("#targets table")).to_contain_text("No target yet.")

    # and adds the target in sexagesimal
    target_form = page.locator("#target-form")
    target_form.locator("[name=name]").fill("LMC bar")
    target_form.locator("[name=ra]").fill("05:23:34.5")
    target_form.locator("[name=dec]").fill("-69:45:22")
    target_form.locator("[name=magnitude]").fill("12.5")
    target_form.get_by_role("button", name="Add target").click()
    expect(page.locator("#targets table")).to_contain_text("LMC bar")

    # and a service-mode run on UT1/FORS2 with the grey-moon preset
    run_form = page.locator("#run-form")
    run_form.locator("[name=telescope]").select_option(label="UT1")
    # the instrument list shows only UT1's instruments
    expect(run_form.locator("[name=instrument] option", has_text="UVES")).to_be_hidden()
    run_form.locator("[name=instrument]").select_option(label="FORS2 (UT1)")
    run_form.locator("[name=hours]").fill("3.5")
    run_form.locator("[name=moon]").select_option("g")
    expect(run_form.locator("[name=max_fli]")).to_have_value("0.7")
    run_form.locator("[name=max_airmass]").fill("1.8")
    run_form.get_by_label("LMC bar").check()
    run_form.get_by_role("button", name="Add run").click()
    expect(page.locator("#runs table")).to_contain_text("FORS2")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/edit.png", full_page=True)

    # then verification finds no error
    page.get_by_role("link", name="Verify", exact=True).first.click()
    expect(page.get_by_test_id("verification-ok")).to_be_visible()
    expect(page.get_by_test_id("errors")).to_have_count(0)

    # and the PDF preview is a PDF (fetched with the page's session: headless Chromium may
    # download a PDF rather than display it)
    proposal = Proposal.objects.get(title__startswith="Magellanic dust")
    pdf = page.request.get(f"/proposals/{proposal.pk}/pdf/")
    assert pdf.ok
    assert pdf.headers["content-type"] == "application/pdf"
    body = pdf.body()
    assert body.startswith(b"%PDF") and len(body) > 1000

    # when she confirms and submits on the overview page
    page.get_by_role("link", name="Go to submission").click()
    page.get_by_label(re.compile("submit this proposal")).check()
    page.get_by_role("button", name="Submit proposal").click()

    # then she sees the programme ID and the status Submitted
    expect(page.get_by_test_id("programme-id")).to_have_text("119.C-0001")
    expect(page.get_by_test_id("status")).to_have_text("Submitted")
    expect(page.locator(".notice.frozen")).to_contain_text("Submitted proposals are frozen")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.SUBMITTED
