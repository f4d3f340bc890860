"""One typed door per write: the rules live in the services, so the page and the API agree, a
PATCH is merged under the row lock, every edit is audited, and bad input is a 400 that changes
nothing. Each test here failed on the code before issue 8."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from dataflow.accounts.models import Role
from dataflow.errors import InvalidInput, NotAllowed
from proposals import services
from proposals.api import serializers as api_serializers
from proposals.commands import ProposalData, RunData, TargetData
from proposals.models import (
    CoInvestigator,
    EventKind,
    ObservingRun,
    Proposal,
    ProposalEvent,
    Target,
)
from tests.conftest import bearer_client as api_client
from tests.factories import InstrumentFactory, TelescopeFactory, UserFactory

API = "/api/v1"


def snapshot() -> tuple[Any, ...]:
    """Every Phase 1 row that a refused write must leave as it was."""
    return (
        list(Proposal.objects.values_list("pk", "version", "title").order_by("pk")),
        list(Target.objects.values().order_by("pk")),
        list(ObservingRun.objects.values().order_by("pk")),
        CoInvestigator.objects.count(),
        ProposalEvent.objects.count(),
    )


# --- the SM/VM rules, in the service for every caller ------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"mode": "VM", "nights": 2, "hours": 3}, "hours", "asks for nights, not hours"),
        ({"mode": "SM", "hours": 3, "nights": 2}, "nights", "asks for hours, not nights"),
        (
            {"mode": "SM", "hours": 3, "preferred_dates": ["2027-03-01"]},
            "preferred_dates",
            "Only visitor-mode runs",
        ),
    ],
)
def test_run_of_one_mode_with_the_other_modes_fields_is_400_and_saves_nothing(
    draft: Proposal, payload: dict[str, Any], field: str, message: str
) -> None:
    # given
    before = snapshot()
    # when
    response = api_client(draft.pi).post(
        f"{API}/proposals/{draft.pk}/runs/",
        {"telescope": "UT1", "instrument": "FORS2", **payload},
        format="json",
    )
    # then
    assert response.status_code == 400, response.json()
    assert message in response.json()["errors"][field][0]
    assert snapshot() == before


def test_switching_a_run_to_visitor_mode_clears_its_hours(draft: Proposal) -> None:
    # given run A asks for 4 SM hours
    run = draft.runs.get()
    # when a PATCH makes it a 2-night VM run
    response = api_client(draft.pi).patch(
        f"{API}/proposals/{draft.pk}/runs/{run.pk}/", {"mode": "VM", "nights": 2}, format="json"
    )
    # then the stored hours are gone: a VM run has nights and no hours
    assert response.status_code == 200, response.json()
    run.refresh_from_db()
    assert (run.mode, run.nights, run.hours) == ("VM", 2.0, None)


def test_service_applies_the_sm_vm_rule_for_any_caller(draft: Proposal) -> None:
    # when a caller other than the API or the page (a p2 layer, a script) sends both
    with pytest.raises(InvalidInput) as err:
        services.run_create(
            proposal_id=draft.pk,
            actor=draft.pi,
            data=RunData(telescope="UT1", instrument="FORS2", mode="VM", nights=1, hours=9),
        )
    # then the service refuses it
    assert "hours" in err.value.errors


# --- a PATCH is merged with the stored object inside the service, under the lock ------------


def test_patch_without_if_match_keeps_a_change_made_while_it_was_validated(
    draft: Proposal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a target, and a co-worker who renames it while ada's PATCH is being validated
    target = draft.targets.get()
    validate = api_serializers.TargetInput.is_valid

    def is_valid_then_concurrent_rename(self: Any, *args: Any, **kwargs: Any) -> bool:
        result = validate(self, *args, **kwargs)
        Target.objects.filter(pk=target.pk).update(name="Renamed meanwhile")
        return result

    monkeypatch.setattr(api_serializers.TargetInput, "is_valid", is_valid_then_concurrent_rename)
    # when ada's PATCH changes only the magnitude, without If-Match
    response = api_client(draft.pi).patch(
        f"{API}/proposals/{draft.pk}/targets/{target.pk}/", {"magnitude": 12.5}, format="json"
    )
    # then her change is merged with the stored target, not with the copy read before
    assert response.status_code == 200, response.json()
    target.refresh_from_db()
    assert (target.name, target.magnitude) == ("Renamed meanwhile", 12.5)


def test_target_update_with_some_fields_keeps_the_others(draft: Proposal) -> None:
    # given
    target = draft.targets.get()
    # when the service gets only a magnitude
    services.target_update(target_id=target.pk, actor=draft.pi, data=TargetData(magnitude=9.0))
    # then name and coordinates are those stored
    updated = Target.objects.get(pk=target.pk)
    assert (updated.name, updated.ra_deg, updated.dec_deg, updated.magnitude) == (
        target.name,
        target.ra_deg,
        target.dec_deg,
        9.0,
    )


# --- who may do what: one place --------------------------------------------------------------


def test_an_invited_coi_who_has_not_accepted_cannot_edit(
    draft: Proposal, other_astronomer: User
) -> None:
    # given bob is invited (he has an account) but has not accepted
    services.coi_add(proposal_id=draft.pk, actor=draft.pi, email=other_astronomer.email)
    # when he edits
    with pytest.raises(NotAllowed):
        services.proposal_update(
            proposal_id=draft.pk, actor=other_astronomer, data=ProposalData(title="Mine")
        )
    # then nothing changed and the proposal stays invisible to him
    assert Proposal.objects.get(pk=draft.pk).title == draft.title
    assert api_client(other_astronomer).get(f"{API}/proposals/{draft.pk}/").status_code == 404


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.OPERATOR, Role.STAFF])
def test_only_astronomers_open_proposals(period: Any, role: Role) -> None:
    # given a user without the astronomer role
    user = UserFactory.create(roles=[role])
    before = Proposal.objects.count()
    # when they open a proposal through the API, the page and the service
    api = api_client(user).post(
        f"{API}/proposals/", {"period": period.number, "title": "Mine"}, format="json"
    )
    page = APIClient()
    page.force_login(user)
    page_get = page.get("/proposals/new/")
    with pytest.raises(NotAllowed):
        services.proposal_create(pi=user, period=period, title="Mine")
    # then each says no and nothing was created
    assert api.status_code == 403 and "Only astronomers" in api.json()["detail"]
    assert page_get.status_code == 403
    assert Proposal.objects.count() == before


# --- audit rows and named updates -------------------------------------------------------------


def test_every_draft_edit_leaves_an_audit_row_with_its_fields(draft: Proposal) -> None:
    # given
    target = draft.targets.get()
    run = draft.runs.get()
    # when ada changes the title, a target's magnitude, the run's hours, and removes the target
    services.proposal_update(
        proposal_id=draft.pk, actor=draft.pi, data=ProposalData(title="New title")
    )
    services.target_update(target_id=target.pk, actor=draft.pi, data=TargetData(magnitude=7.0))
    services.run_update(run_id=run.pk, actor=draft.pi, data=RunData(hours=6.0))
    services.target_delete(target_id=target.pk, actor=draft.pi)
    # then each edit is a row: who, which fields, what
    edits = list(
        ProposalEvent.objects.filter(proposal=draft, kind=EventKind.EDIT).values_list(
            "actor", "fields", "note"
        )
    )
    assert edits == [
        (draft.pi.pk, ["title"], "proposal text changed"),
        (draft.pi.pk, ["magnitude"], f"target {target.name} changed"),
        (draft.pi.pk, ["hours"], "run A changed"),
        (draft.pi.pk, [], f"target {target.name} removed"),
    ]


def test_an_edit_that_changes_nothing_writes_nothing(draft: Proposal) -> None:
    # given
    version = draft.version
    # when the same title is saved again
    services.proposal_update(
        proposal_id=draft.pk, actor=draft.pi, data=ProposalData(title=draft.title)
    )
    # then no version bump and no audit row
    assert Proposal.objects.get(pk=draft.pk).version == version
    assert not ProposalEvent.objects.filter(proposal=draft).exists()


def test_an_edit_updates_only_the_changed_columns(draft: Proposal) -> None:
    # when
    with CaptureQueriesContext(connection) as queries:
        services.proposal_update(
            proposal_id=draft.pk, actor=draft.pi, data=ProposalData(abstract="Shorter.")
        )
    # then the UPDATEs name their fields: the title and justification are not rewritten
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "proposals_proposal"')]
    assert updates, [q["sql"] for q in queries]
    assert all('"title"' not in sql and '"scientific_justification"' not in sql for sql in updates)


# --- bad input is a 400 with field messages, never a 500 -----------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"telescope": "²"}, "telescope", "There is no telescope ²."),
        ({"instrument": "²"}, "instrument", "There is no instrument ²."),
        ({"telescope": "9" * 30}, "telescope", "There is no telescope 999"),
        ({"hours": True}, "hours", "Give a finite number."),
        ({"hours": 10**400}, "hours", "too large"),
        ({"hours": 5000}, "hours", "h of night at Paranal; ask for at most that."),
        ({"mode": "VM", "hours": None, "nights": 400}, "nights", "nights; ask for at most that"),
        ({"instrument": "UVES"}, "instrument", "UVES is not an instrument of UT1."),
        ({"max_airmass": 0.5}, "max_airmass", "Must be at least 1."),
    ],
)
def test_bad_run_input_is_a_400_with_a_field_message(
    draft: Proposal, payload: dict[str, Any], field: str, message: str
) -> None:
    # given UVES is mounted on UT2, not UT1
    InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="UVES")
    before = snapshot()
    # when
    response = api_client(draft.pi).post(
        f"{API}/proposals/{draft.pk}/runs/",
        {"telescope": "UT1", "instrument": "FORS2", "hours": 2, **payload},
        format="json",
    )
    # then
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["errors"][field])
    assert snapshot() == before


def test_instrument_on_another_telescope_is_named_whichever_way_it_was_given(
    draft: Proposal,
) -> None:
    # given UVES on UT2
    uves = InstrumentFactory.create(telescope=TelescopeFactory.create(name="UT2"), name="UVES")
    client = api_client(draft.pi)
    url = f"{API}/proposals/{draft.pk}/runs/"
    # when the instrument is given by name, by id and by id as a string
    answers = [
        client.post(url, {"telescope": "UT1", "instrument": ref, "hours": 2}, format="json")
        for ref in ("UVES", uves.pk, str(uves.pk))
    ]
    # then every answer says the same thing
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert {a.json()["errors"]["instrument"][0] for a in answers} == {
        "UVES is not an instrument of UT1."
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ra": 10**400}, "ra"),
        ({"dec": -(10**400)}, "dec"),
        ({"magnitude": True}, "magnitude"),
        ({"pm_ra_mas_yr": 10**400}, "pm_ra_mas_yr"),
    ],
)
def test_bad_target_numbers_are_a_400(draft: Proposal, payload: dict[str, Any], field: str) -> None:
    # given
    before = snapshot()
    # when
    response = api_client(draft.pi).post(
        f"{API}/proposals/{draft.pk}/targets/",
        {"name": "Huge", "ra": "10:00:00", "dec": "-30:00:00", **payload},
        format="json",
    )
    # then
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert snapshot() == before


# --- private files: the API's figure URLs and PDFs go through views that check visibility ----


def test_api_figure_url_serves_the_image_only_to_those_who_see_the_proposal(
    draft: Proposal, other_astronomer: User
) -> None:
    # given a figure on ada's draft
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buf, "PNG")
    upload = SimpleUploadedFile("plot.png", buf.getvalue(), content_type="image/png")
    services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=upload, size=len(upload))
    owner = api_client(draft.pi)
    (figure,) = owner.get(f"{API}/proposals/{draft.pk}/").json()["figures"]
    url = figure["url"]
    # when the owner, another astronomer and an anonymous client follow the URL
    mine = owner.get(url)
    theirs = api_client(other_astronomer).get(url)
    anonymous = APIClient().get(url)
    # then it is an API view, not a public media path, and only the owner gets the PNG
    assert "/media/" not in url and url.endswith(f"/proposals/{draft.pk}/figures/{figure['id']}/")
    assert mine.status_code == 200 and mine["Content-Type"] == "image/png"
    assert mine.getvalue().startswith(b"\x89PNG")
    assert theirs.status_code == 404
    assert anonymous.status_code == 401


def test_api_pdf_of_a_submitted_proposal_is_its_stored_final_pdf(
    draft: Proposal, django_capture_on_commit_callbacks: Any
) -> None:
    # given ada submits (the final PDF is rendered and stored by the task)
    with django_capture_on_commit_callbacks(execute=True):
        services.proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    stored = Proposal.objects.get(pk=draft.pk).final_pdf.read()
    # when she fetches the PDF through the API
    response = api_client(draft.pi).get(f"{API}/proposals/{draft.pk}/pdf/")
    # then she gets exactly the stored final PDF
    assert response.status_code == 200
    assert response.getvalue() == stored
