"""The outcome letter (page, PDF, e-mails, API data): what it says, who may fetch it, and that no
reviewer identity reaches anything the PI or a co-investigator can fetch."""

import datetime as dt
import email
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from dataflow.accounts.models import Role
from dataflow.errors import InvalidInput
from proposals.models import CoInvestigator, Proposal, ProposalStatus
from proposals.review.models import (
    Assignment,
    AssignmentRole,
    LedgerEntry,
    LedgerKind,
    Panel,
    PanelGrade,
    PanelMember,
    RankClass,
    Review,
    ReviewStatus,
    RunDecision,
)
from proposals.review.outcome import (
    OUTCOME_SENT,
    outcome_data,
    outcome_for,
    render_outcome_pdf,
    send_outcome,
)
from proposals.review.tasks import send_outcome_letter
from tests.factories import ProposalFactory, RunFactory, UserFactory, complete_proposal

pytestmark = pytest.mark.django_db

PROGRAMME_ID = "119.C-0042"
COMMENTS_TO_PI = {
    # Reviewer-id order differs from the text order the letter uses.
    "oberholzer": "The sample is small but well chosen.",
    "quastenflosser": "A compelling case for mapping the dust.",
    "brackwasser": "Needs a clearer justification of the time.",
}
IN_LETTER_ORDER = sorted(COMMENTS_TO_PI.values())


@dataclass(frozen=True)
class Decided:
    proposal: Proposal
    pi: User
    coi: User
    reviewers: list[User]  # everyone of the panel: graders, the chair, a late drafter
    panel_comments: list[str]


def _reviewer(uid: int, first: str, last: str) -> User:
    # Distinctive ids, names, usernames and addresses: any of them in an output is a leak.
    return UserFactory.create(
        id=uid,
        username=f"rev_{last.lower()}",
        email=f"{first.lower()}.{last.lower()}@referee.example",
        first_name=first,
        last_name=last,
        roles=[Role.REVIEWER],
        institute="Osservatorio di Brera",
    )


@pytest.fixture
def decided(astronomer: User, period: Any, staff: User) -> Decided:
    """An approved proposal of ``astronomer``: run A (SM) approved with rank class A and 3 h,
    run B rejected; graded 1.5, 2.0, 2.5 by three reviewers of a panel of four proposals
    (chair's grades 1.2, 1.8 for this one, 2.6, 3.4), a fourth reviewer's review still a draft."""
    proposal = complete_proposal(pi=astronomer, period=period)
    Proposal.objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.APPROVED, programme_number=42, programme_id=PROGRAMME_ID
    )
    proposal.refresh_from_db()
    run_a = proposal.runs.get()
    run_b = RunFactory.create(proposal=proposal, letter="B", hours=2.0)
    coi = UserFactory.create(username="carla", email="carla@example.org", first_name="Carla")
    CoInvestigator.objects.create(proposal=proposal, user=coi, email=coi.email)
    CoInvestigator.objects.create(proposal=proposal, email="invited@example.org")  # not accepted

    graders = [
        _reviewer(904711, "Xanthippe", "Oberholzer"),
        _reviewer(904722, "Wendelin", "Quastenflosser"),
        _reviewer(904733, "Ottilie", "Brackwasser"),
    ]
    chair = _reviewer(904744, "Hieronymus", "Kettenbrand")
    drafter = _reviewer(904755, "Leopoldine", "Zaunkoenig")
    panel = Panel.objects.create(
        period=period,
        name="C1",
        category="C",
        chair=chair,
        deadline=timezone.now() - dt.timedelta(days=10),
    )
    panel_comments = []
    for i, (reviewer, grade) in enumerate(zip(graders, ("1.5", "2.0", "2.5"), strict=True)):
        PanelMember.objects.create(panel=panel, user=reviewer)
        assignment = Assignment.objects.create(
            proposal=proposal,
            reviewer=reviewer,
            panel=panel,
            role=AssignmentRole.PRIMARY if i == 0 else AssignmentRole.SECONDARY,
        )
        panel_comments.append(f"Panel only: confidential remark number {i + 1}.")
        Review.objects.create(
            assignment=assignment,
            grade=Decimal(grade),
            comment_to_pi=COMMENTS_TO_PI[reviewer.last_name.lower()],
            comment_to_panel=panel_comments[-1],
            status=ReviewStatus.SUBMITTED,
            submitted_at=timezone.now(),
        )
    PanelMember.objects.create(panel=panel, user=drafter)
    late = Assignment.objects.create(
        proposal=proposal, reviewer=drafter, panel=panel, role=AssignmentRole.SECONDARY
    )
    Review.objects.create(assignment=late, grade=Decimal("5.0"), comment_to_pi="Unfinished.")
    PanelGrade.objects.create(proposal=proposal, panel=panel, grade=Decimal("1.8"), by=chair)
    for grade in ("1.2", "2.6", "3.4"):
        other = ProposalFactory.create(period=period, status=ProposalStatus.REJECTED)
        Assignment.objects.create(
            proposal=other, reviewer=graders[0], panel=panel, role=AssignmentRole.PRIMARY
        )
        PanelGrade.objects.create(proposal=other, panel=panel, grade=Decimal(grade), by=chair)

    RunDecision.objects.create(run=run_a, approved=True, rank_class=RankClass.A, decided_by=staff)
    LedgerEntry.objects.create(run=run_a, kind=LedgerKind.ALLOCATION, seconds=10800, actor=staff)
    RunDecision.objects.create(run=run_b, approved=False, decided_by=staff)
    return Decided(
        proposal=proposal,
        pi=astronomer,
        coi=coi,
        reviewers=[*graders, chair, drafter],
        panel_comments=[*panel_comments, "Unfinished."],
    )


# --- helpers ---------------------------------------------------------------------------------


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, proposal: Proposal) -> str:
    return reverse(f"proposals:{name}", args=[proposal.pk])


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    pages = "\n".join(page.extract_text() for page in reader.pages)
    return f"{pages}\n{reader.metadata}"


def flat(text: str) -> str:
    """Whitespace collapsed: PDF text extraction and HTML break lines where they like."""
    return " ".join(text.split())


def identities(reviewers: list[User]) -> list[str]:
    """Every way a reviewer could be named: names, full name, username, e-mail, user id."""
    out = []
    for r in reviewers:
        out += [r.first_name, r.last_name, r.get_full_name(), r.username, r.email, str(r.pk)]
    return out


def assert_anonymous(text: str, decided: Decided, where: str) -> None:
    folded = text.casefold()
    leaks = [s for s in identities(decided.reviewers) if s.casefold() in folded]
    assert not leaks, f"reviewer identity in the {where}: {leaks}"
    panel_only = [c for c in decided.panel_comments if c in flat(text)]
    assert not panel_only, f"comments to the panel in the {where}: {panel_only}"


def assert_letter_content(text: str, where: str) -> None:
    text = flat(text)
    for expected in (
        f"{PROGRAMME_ID}(A)",
        f"{PROGRAMME_ID}(B)",
        "Approved",
        "Rejected",
        "3.0 h",
        "1.8",
        "second quarter",
        *COMMENTS_TO_PI.values(),
        "Reviewer 1",
        "Reviewer 3",
    ):
        assert expected.casefold() in text.casefold(), f"{expected!r} missing from the {where}"


def full_message(message: EmailMessage) -> str:
    """The message as sent: every header, the body and the attachments (base64 decoded)."""
    raw = message.message().as_string()
    parsed = email.message_from_string(raw)
    parts = [raw]
    for part in parsed.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(
                pdf_text(payload)
                if part.get_content_type() == "application/pdf"
                else payload.decode(errors="replace")
            )
    return "\n".join(parts)


# --- the letter --------------------------------------------------------------------------------


def test_outcome_data_holds_decisions_time_grade_quartile_and_comments(decided: Decided) -> None:
    # when
    data = outcome_data(outcome_for(decided.proposal))
    # then
    run_a, run_b = data["runs"]
    assert (run_a["run"], run_a["decision"], run_a["rank_class"]) == (
        f"{PROGRAMME_ID}(A)",
        "approved",
        "A",
    )
    assert (run_a["allocated_seconds"], run_a["allocated_hours"]) == (10800, 3.0)
    assert (run_b["decision"], run_b["rank_class"], run_b["allocated_hours"]) == (
        "rejected",
        "",
        None,
    )
    assert (data["status"], data["grade"], data["quartile"]) == ("approved", 1.8, 2)
    assert data["quartile_label"] == "second quarter"
    assert (data["pool"], data["pool_size"]) == ("panel", 4)
    assert data["comments_to_pi"] == [
        {"label": f"Reviewer {i}", "text": text} for i, text in enumerate(IN_LETTER_ORDER, 1)
    ]
    json.dumps(data)  # JSON-ready as it is


def test_grade_without_chair_grade_is_the_mean_of_submitted_reviews(decided: Decided) -> None:
    # given no chair's grade: 1.5, 2.0 and 2.5 submitted, the draft's 5.0 not counted
    PanelGrade.objects.filter(proposal=decided.proposal).delete()
    # when
    outcome = outcome_for(decided.proposal)
    # then: still second of 1.2, 2.0, 2.6, 3.4
    assert (outcome.grade, outcome.quartile) == (Decimal("2.0"), 2)


def test_comment_order_does_not_follow_who_wrote_them(decided: Decided) -> None:
    # given the letter as it is
    before = outcome_data(outcome_for(decided.proposal))["comments_to_pi"]
    # when the first and last reviewers had written each other's comments
    reviews = list(
        Review.objects.filter(
            assignment__proposal=decided.proposal, status=ReviewStatus.SUBMITTED
        ).order_by("assignment__reviewer_id")
    )
    first, last = reviews[0], reviews[-1]
    first.comment_to_pi, last.comment_to_pi = last.comment_to_pi, first.comment_to_pi
    Review.objects.bulk_update([first, last], ["comment_to_pi"])
    # then the letter is the same
    assert outcome_data(outcome_for(decided.proposal))["comments_to_pi"] == before


def test_outcome_data_names_no_reviewer(decided: Decided) -> None:
    # when
    data = outcome_data(outcome_for(decided.proposal))
    # then
    text = json.dumps(data, ensure_ascii=False)
    assert_anonymous(text, decided, "API data")  # ids too: distinctive, so any digit run

    def keys(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [*value, *(k for v in value.values() for k in keys(v))]
        if isinstance(value, list):
            return [k for v in value for k in keys(v)]
        return []

    assert not [k for k in keys(data) if any(w in k for w in ("reviewer", "user", "email"))]


# --- the page and the PDF --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["pi", "coi"])
def test_page_shows_the_letter_without_reviewer_identity(decided: Decided, who: str) -> None:
    # given
    user = decided.pi if who == "pi" else decided.coi
    # when
    response = _client(user).get(_url("outcome", decided.proposal))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert_letter_content(html, "page")
    assert_anonymous(html, decided, "page")


def test_detail_page_links_to_the_outcome_and_names_no_reviewer(decided: Decided) -> None:
    # when
    response = _client(decided.pi).get(_url("detail", decided.proposal))
    # then
    html = response.content.decode()
    assert _url("outcome", decided.proposal) in html
    assert_anonymous(html, decided, "detail page")


def test_pdf_shows_the_letter_without_reviewer_identity(decided: Decided) -> None:
    # when
    rendered = render_outcome_pdf(decided.proposal.pk)
    response = _client(decided.pi).get(_url("outcome_pdf", decided.proposal))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{PROGRAMME_ID}-outcome.pdf"' in response["Content-Disposition"]
    for data, where in ((rendered, "PDF"), (response.content, "PDF page")):
        assert data.startswith(b"%PDF-")
        text = pdf_text(data)
        assert_letter_content(text, where)
        assert_anonymous(text, decided, where)


def test_staff_see_the_outcome(decided: Decided, staff: User) -> None:
    # when
    page = _client(staff).get(_url("outcome", decided.proposal))
    # then
    assert page.status_code == 200


@pytest.mark.parametrize("name", ["outcome", "outcome_pdf"])
def test_another_astronomer_and_the_reviewers_get_404(
    decided: Decided, other_astronomer: User, name: str
) -> None:
    # given
    outsiders = [other_astronomer, decided.reviewers[0], decided.reviewers[3]]  # a grader, chair
    # when
    statuses = [_client(u).get(_url(name, decided.proposal)).status_code for u in outsiders]
    # then
    assert statuses == [404, 404, 404]


@pytest.mark.parametrize("name", ["outcome", "outcome_pdf"])
def test_no_outcome_before_the_proposal_is_decided(decided: Decided, name: str) -> None:
    # given
    Proposal.objects.filter(pk=decided.proposal.pk).update(status=ProposalStatus.UNDER_REVIEW)
    # when
    response = _client(decided.pi).get(_url(name, decided.proposal))
    # then
    assert response.status_code == 404


# --- the e-mails -----------------------------------------------------------------------------


def test_pi_gets_the_letter_with_the_pdf_and_coi_a_notice(
    decided: Decided, mailoutbox: list[EmailMessage]
) -> None:
    # when
    sent = send_outcome(proposal_id=decided.proposal.pk)
    # then: the PI and the accepted co-investigator, not the pending invitation
    assert sent is True
    assert [m.to for m in mailoutbox] == [[decided.pi.email], [decided.coi.email]]
    letter, notice = mailoutbox
    assert letter.subject == f"Outcome of proposal {PROGRAMME_ID}: approved"
    assert letter.from_email == settings.DEFAULT_FROM_EMAIL
    assert not (letter.cc or letter.bcc or letter.reply_to)
    assert_letter_content(str(letter.body), "e-mail body")
    ((filename, content, mimetype),) = letter.attachments
    assert (filename, mimetype) == (f"{PROGRAMME_ID}-outcome.pdf", "application/pdf")
    assert_letter_content(pdf_text(content), "attached PDF")
    link = settings.SITE_URL + _url("outcome", decided.proposal)
    assert link in notice.body and PROGRAMME_ID in notice.subject
    assert not notice.attachments


def test_e_mails_name_no_reviewer(decided: Decided, mailoutbox: list[EmailMessage]) -> None:
    # when
    send_outcome(proposal_id=decided.proposal.pk)
    # then: headers, bodies and attachments
    assert len(mailoutbox) == 2
    for message in mailoutbox:
        assert_anonymous(full_message(message), decided, f"e-mail to {message.to}")


def test_letter_is_sent_once_when_the_task_runs_twice(
    decided: Decided, mailoutbox: list[EmailMessage]
) -> None:
    # when
    send_outcome_letter.delay(decided.proposal.pk)
    send_outcome_letter.delay(decided.proposal.pk)
    # then
    assert len(mailoutbox) == 2
    assert decided.proposal.events.filter(note=OUTCOME_SENT).count() == 1


def test_letter_waits_until_every_run_is_decided(
    decided: Decided, mailoutbox: list[EmailMessage]
) -> None:
    # given run B undecided
    RunDecision.objects.filter(run__proposal=decided.proposal, approved=False).delete()
    # when / then
    with pytest.raises(InvalidInput):
        send_outcome(proposal_id=decided.proposal.pk)
    assert mailoutbox == []
    assert not decided.proposal.events.filter(note=OUTCOME_SENT).exists()


def test_deciding_the_last_run_sends_the_letter(
    decided: Decided,
    staff: User,
    mailoutbox: list[EmailMessage],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given the proposal back under review with its runs undecided
    from proposals.review.services import run_decide

    proposal = decided.proposal
    Proposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.UNDER_REVIEW)
    RunDecision.objects.filter(run__proposal=proposal).delete()
    LedgerEntry.objects.filter(run__proposal=proposal).delete()
    run_a, run_b = proposal.runs.order_by("letter")
    # when staff decide both runs through the service
    with django_capture_on_commit_callbacks(execute=True):
        run_decide(run_id=run_a.pk, actor=staff, approved=True, rank_class="A", hours=3.0)
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        run_decide(run_id=run_b.pk, actor=staff, approved=False)
    # then the letter went out once, with the ledger's 3.0 h
    assert [m.to for m in mailoutbox] == [[decided.pi.email], [decided.coi.email]]
    assert "3.0 h" in str(mailoutbox[0].body)
    assert proposal.events.filter(note=OUTCOME_SENT).count() == 1


@pytest.mark.parametrize("who", ["pi", "coi"])
def test_api_outcome_and_proposal_name_no_reviewer(decided: Decided, who: str) -> None:
    # given the proposal's PI or co-investigator with an API token
    from tests.conftest import bearer_client

    client = bearer_client(getattr(decided, who))
    base = f"/api/v1/proposals/{decided.proposal.pk}/"
    # when they fetch the letter, the proposal (with its history) and its list
    letter = client.get(base + "outcome/")
    detail = client.get(base)
    listing = client.get("/api/v1/proposals/")
    # then the letter is there, and no reviewer appears in any body or header
    assert letter.status_code == 200 and letter.json()["runs"][0]["rank_class"] == "A"
    for name, response in (("letter", letter), ("detail", detail), ("list", listing)):
        headers = " ".join(f"{k}: {v}" for k, v in response.items())
        assert_anonymous(response.content.decode() + headers, decided, f"API {name}")


def test_api_outcome_is_404_for_others_and_before_the_decision(
    decided: Decided, other_astronomer: User
) -> None:
    from tests.conftest import bearer_client

    url = f"/api/v1/proposals/{decided.proposal.pk}/outcome/"
    assert bearer_client(other_astronomer).get(url).status_code == 404
    Proposal.objects.filter(pk=decided.proposal.pk).update(status="under_review")
    assert bearer_client(decided.pi).get(url).status_code == 404
