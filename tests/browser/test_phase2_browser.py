"""Phase 2 end to end in a real browser (issue 11): an astronomer builds a folder with a group
of two OBs and a time-link, fills the OBs' templates, sees their execution time and visibility
plots, verifies and submits them; staff accept one OB and send the other back with a message,
which the astronomer then sees."""

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from dataflow.accounts.models import Role
from observations.models import Container, ObservationBlock, OBStatus
from proposals.models import CoInvestigator, ObservingRun
from proposals.review.services import run_decide
from tests.factories import UserFactory
from tests.observations.conftest import add_signatures, reviewed_proposal

pytestmark = [pytest.mark.browser]


@dataclass
class World:
    pi: User
    staff: User
    run: ObservingRun


@pytest.fixture
def world(transactional_db) -> World:  # type: ignore[no-untyped-def]
    """An approved service-mode FORS2 run of ada's, Phase 2 open (see tests/observations)."""
    ada = UserFactory.create(username="ada", first_name="Ada", last_name="Lovelace")
    staff = UserFactory.create(username="sam", roles=[Role.STAFF])
    proposal, sm, vm = reviewed_proposal(ada)
    CoInvestigator.objects.create(
        proposal=proposal, user=UserFactory.create(username="carl"), email="carl@example.org"
    )
    add_signatures(sm)
    run_decide(
        run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=10.0, send_outcome=False
    )
    run_decide(run_id=vm.pk, actor=staff, approved=True, nights=1.0, send_outcome=False)
    return World(ada, staff, ObservingRun.objects.get(pk=sm.pk))


def _log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")


def _create(page, run: ObservingRun, kind: str, name: str, parent: Container | None) -> None:  # type: ignore[no-untyped-def]
    """On the run's tree page (a new OB opens its editor), create an item."""
    page.goto(f"/phase2/runs/{run.pk}/")
    page.select_option("#create-item_type", kind)
    page.fill("#create-name", name)
    if parent is not None:
        page.select_option("#create-parent", str(parent.pk))
    page.click("#create-submit")


def _fill_ob(page, ob: ObservationBlock) -> None:  # type: ignore[no-untyped-def]
    """Copy the Phase 1 target, add an acquisition and an imaging template with its filter."""
    from playwright.sync_api import expect

    page.goto(f"/phase2/obs/{ob.pk}/")
    page.click("#copy-target-submit")
    expect(page.locator("#ob-target_name")).to_have_value("NGC 253")
    page.select_option("#template-add-signature_name", "FORS2_img_acq")
    page.click("#template-add")
    page.select_option("#template-add-signature_name", "FORS2_img_obs")
    page.click("#template-add")
    science = page.locator("section[data-template-name=FORS2_img_obs]")
    science.locator("select[name$='INS.FILT'], select[id$='INS-FILT']").select_option("R_SPECIAL")
    science.locator("button[id$='-save']").click()


def test_astronomer_builds_and_submits_staff_accept_one_and_send_one_back(  # type: ignore[no-untyped-def]
    page, world: World
) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda dialog: dialog.accept())
    # given ada logged in on her run's Phase 2 tree, reached from the Phase 2 list
    _log_in(page, "ada")
    page.goto("/phase2/")
    page.get_by_role("link", name=re.compile(re.escape(str(world.run)))).first.click()
    expect(page).to_have_url(re.compile(rf"/phase2/runs/{world.run.pk}/$"))

    # when she builds a folder holding a group of two OBs and a time-link
    _create(page, world.run, "Folder", "Field A", None)
    folder = Container.objects.get(run=world.run, name="Field A")
    _create(page, world.run, "Group", "Mosaic", folder)
    group = Container.objects.get(run=world.run, name="Mosaic")
    _create(page, world.run, "TimeLink", "Monitoring", folder)
    _create(page, world.run, "OB", "tile 1", group)
    _create(page, world.run, "OB", "tile 2", group)
    _create(
        page, world.run, "OB", "epoch 1", Container.objects.get(run=world.run, name="Monitoring")
    )
    # then the tree shows them
    page.goto(f"/phase2/runs/{world.run.pk}/")
    tree = page.locator("#tree-card")
    for name in ("Field A", "Mosaic", "Monitoring", "tile 1", "tile 2", "epoch 1"):
        expect(tree).to_contain_text(name)
    first, second = ObservationBlock.objects.filter(container=group).order_by("position")

    # when she fills the first OB's templates
    _fill_ob(page, first)
    # then she sees its execution time (preset 6 min + acquisition 2 min + a 1 h exposure...)
    expect(page.locator("#exec-total")).to_have_text(re.compile(r"^1:\d\d:\d\d$"))
    # and both visibility plots drawn
    for plot in ("#visibility-night", "#visibility-period"):
        image = page.locator(plot)
        expect(image).to_be_visible()
        page.wait_for_function(
            "(sel) => { const i = document.querySelector(sel); return i.complete && "
            "i.naturalWidth > 100; }",
            arg=plot,
        )
    # when she verifies it: it passes; then she submits it
    page.click("#ob-verify")
    expect(page.locator("#verification")).to_contain_text(re.compile("pass", re.I))
    page.click("#ob-submit")
    expect(page.locator("#ob-status")).to_have_attribute("data-status", "D")

    # when she fills the second OB and submits the whole group from its container page
    _fill_ob(page, second)
    page.goto(f"/phase2/containers/{group.pk}/")
    page.click("#container-submit")
    expect(page.locator("body")).to_contain_text(re.compile("submitted", re.I))
    assert ObservationBlock.objects.get(pk=second.pk).status == OBStatus.DEFINED

    # when staff open the review queue, accept the first OB and send the second back
    _log_in(page, "sam")
    page.goto("/phase2/review/")
    expect(page.locator(f"#ob-{first.pk}")).to_be_visible()
    page.click(f"#accept-{first.pk}")
    expect(page.locator(f"#ob-{first.pk}")).to_have_count(0)
    page.goto(f"/phase2/review/obs/{second.pk}/")
    page.fill("#send-back-message", "Use I_BESS for tile 2: the field is red.")
    page.click("#send-back-button")
    expect(page.locator("body")).to_contain_text(re.compile("sent back", re.I))
    statuses = dict(ObservationBlock.objects.values_list("name", "status"))
    assert (statuses["tile 1"], statuses["tile 2"]) == (OBStatus.ACCEPTED, OBStatus.REPAIR)

    # then ada sees the message on her home page and on the OB's page
    _log_in(page, "ada")
    page.goto("/")
    expect(page.locator(f"#sent-back-{second.pk}")).to_contain_text("Use I_BESS for tile 2")
    page.goto(f"/phase2/obs/{second.pk}/")
    expect(page.locator("#ob-sendback")).to_contain_text("Use I_BESS for tile 2")
    expect(page.locator("#ob-status")).to_have_attribute("data-status", "-")
